// Chat uploads, streamed: the multipart body is parsed as it arrives (@fastify/busboy) and the
// file part's bytes go to the blob store chunk by chunk, so an upload holds a few chunks in
// memory, never the file. The checks of files.ts run as the bytes come: type and extension at
// the part's header, content at its first bytes, size as it streams (past the category's limit
// the stream is abandoned: 413, the partial blob removed). Per user: uploads a minute, and a
// quota on the bytes of their stored files.
import Busboy from "@fastify/busboy";
import type { Readable } from "node:stream";
import type { Clock } from "../../platform/clock";
import { platformErrors } from "../../platform/http/errors";
import { HttpProblem, problems } from "../../platform/http/problem";
import type { Logger } from "../../platform/logger";
import type { RateLimiter, RateLimitRule } from "../../platform/ratelimit";
import { chatErrors } from "./errors";
import type { FileLedger } from "./file-ledger";
import {
  type BlobStore,
  type BlobWriter,
  categoryLimits,
  checkDeclared,
  cleanFileName,
  contentMismatch,
  type DeclaredUpload,
  emptyFile,
  sniffBytes,
  tooLarge,
  type UploadRefusal,
} from "./files";
import type { FileInfo } from "./model";
import { toFileInfo } from "./service";
import type { ChatStore, FileRecord } from "./store";

const MiB = 1024 * 1024;

/** A file as it arrives: its declared name and type, and its bytes. */
export interface IncomingFile {
  name: string;
  /** The Content-Type the client declared for the part (not a guess from the name). */
  type: string;
  data: Uint8Array | AsyncIterable<Uint8Array>;
}

export interface UploadSettings {
  /** Uploads a user may start per minute. */
  perMinute: number;
  /** Bytes a user's stored files may take in all. */
  quotaBytes: number;
}

// One file part is read; a few others are skipped, more make the body malformed.
const multipartLimits = {
  files: 4,
  parts: 16,
  fields: 8,
  fieldSize: 64 * 1024,
  headerPairs: 32,
  headerSize: 16 * 1024,
  // A backstop: the category's limit (checked while streaming) is never above it.
  fileSize: Math.max(...Object.values(categoryLimits)) + 1,
};

/**
 * Body chunks are garbage once they are on disk, but the collector lets garbage grow with the
 * live heap before it runs: 10 parallel 50 MiB uploads grew RSS by ~100 MiB, as much as a bare
 * Bun.serve with a heap of our size does. While uploads stream, the RSS is checked every few MiB
 * received; while it stands `budget` above where it was when they began, a full collection runs
 * at most once per `minBetween` received (~35 ms each on our heap: ~20 for 500 MiB, not one per
 * chunk). The threshold does not follow the RSS up: what the allocator keeps after a collection
 * would otherwise ratchet it (measured: +81 to +97 MiB peaks that way, +36 to +43 like this).
 */
class UploadMemoryGuard {
  private active = 0;
  private collectAbove = 0;
  private sinceCheck = 0;
  private sinceCollect = 0;

  constructor(
    private readonly budget = 32 * MiB,
    private readonly checkEvery = 4 * MiB,
    private readonly minBetween = 24 * MiB,
  ) {}

  begin(): void {
    if (this.active++ === 0) this.collectAbove = process.memoryUsage.rss() + this.budget;
  }

  end(): void {
    this.active--;
  }

  received(bytes: number): void {
    this.sinceCheck += bytes;
    this.sinceCollect += bytes;
    if (this.sinceCheck < this.checkEvery) return;
    this.sinceCheck = 0;
    if (this.sinceCollect < this.minBetween || process.memoryUsage.rss() <= this.collectAbove) return;
    this.sinceCollect = 0;
    Bun.gc(true);
  }
}

const memoryGuard = new UploadMemoryGuard();

const malformed = () => problems.badRequest(platformErrors.malformedBody, "the multipart body is malformed or was cut short");

/**
 * Parses a multipart/form-data body as it streams and hands its first `file` part to `handle`
 * while the rest is still arriving (backpressure: the body is read as fast as the handler takes
 * the part's bytes). When the handler ends early (a refusal), the rest of the body is not read.
 * Null when the body is not multipart/form-data or has no `file` part.
 */
export async function readMultipartFile<T>(
  contentType: string | null,
  body: ReadableStream<Uint8Array> | null,
  handle: (file: IncomingFile) => Promise<T>,
): Promise<{ value: T } | null> {
  if (!body || !contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return null;
  let parser: ReturnType<typeof Busboy>;
  try {
    parser = Busboy({ headers: { "content-type": contentType }, limits: multipartLimits });
  } catch {
    return null; // no boundary
  }
  const reader = body.getReader();
  // Set from the parser's callbacks (a holder, so the checks below see them).
  const state: { handled: Promise<T> | null; part: Readable | null; error: unknown; stopped: boolean } = {
    handled: null,
    part: null,
    error: null,
    stopped: false,
  };
  // No Promise.race against a long-lived promise here: each race would keep its chunk reachable
  // until that promise settles, i.e. hold the whole body. Stopping cancels the reader instead
  // (a pending read ends as done) and wakes a wait for the parser's drain.
  let wake: (() => void) | null = null;
  const stop = () => {
    if (state.stopped) return;
    state.stopped = true;
    wake?.();
    reader.cancel().catch(() => undefined);
  };
  const fail = (err: unknown) => {
    state.error ??= err;
    state.part?.destroy(err instanceof Error ? err : new Error(String(err)));
    stop();
  };
  let finished = false;
  const sleep = () => new Promise<void>((resolve) => (wake = resolve)).finally(() => (wake = null));
  parser.on("error", fail);
  parser.on("drain", () => wake?.());
  parser.once("finish", () => {
    finished = true;
    wake?.();
  });
  parser.on("file", (field, stream, filename, _encoding, mime) => {
    // Errors reach us through the parser's own 'error' (a part that fails fails the body).
    stream.on("error", () => undefined);
    if (field !== "file" || state.handled) {
      stream.resume();
      return;
    }
    state.part = stream;
    // Browsers send a quote in a file name as %22.
    state.handled = handle({ name: (filename ?? "").replaceAll("%22", '"'), type: mime ?? "", data: stream });
    state.handled.then(stop, stop);
  });

  memoryGuard.begin();
  try {
    while (!state.stopped) {
      const next = await reader.read();
      if (next.done) break;
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      memoryGuard.received(chunk.byteLength);
      if (!parser.write(chunk) && !state.stopped) await sleep();
    }
  } catch (err) {
    fail(err); // the client went away mid-body
  } finally {
    memoryGuard.end();
  }
  if (!state.stopped) parser.end();
  // The handler may still be reading the part's last bytes; a refusal then stops the wait.
  while (!finished && !state.stopped) await sleep();
  if (!finished) parser.destroy();
  if (state.handled) {
    try {
      return { value: await state.handled };
    } catch (err) {
      // A refusal stands; the part's failure because the body broke is the body's fault.
      if (err instanceof HttpProblem || state.error === null) throw err;
      throw malformed();
    }
  }
  if (state.error !== null) throw malformed();
  return null;
}

const refuse = (r: UploadRefusal): HttpProblem =>
  r.status === 422
    ? problems.unprocessable(r.code, r.detail, [{ field: "/file", message: r.detail }])
    : new HttpProblem(r.status, r.code, r.detail);

async function* chunksOf(data: IncomingFile["data"]): AsyncIterable<Uint8Array> {
  if (data instanceof Uint8Array) yield data;
  else yield* data;
}

/** Receives uploads: rate, quota, the streamed checks, the blob, then the record. */
export class FileUploads {
  private readonly rule: RateLimitRule;
  /** Bytes of uploads in progress on this instance, per user: parallel uploads share the quota. */
  private readonly reserved = new Map<string, number>();

  constructor(
    private readonly store: ChatStore,
    private readonly ledger: FileLedger,
    private readonly blobs: BlobStore,
    private readonly limiter: RateLimiter,
    private readonly settings: UploadSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.rule = { name: "chat_upload", limit: settings.perMinute, windowMs: 60_000 };
  }

  /** POST /files: the first `file` part of a multipart body, streamed to the blob store. */
  async receive(
    userId: string,
    contentType: string | null,
    contentLength: number | null,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<FileInfo> {
    await this.admit(userId);
    const got = await readMultipartFile(contentType, body, (file) => this.accept(userId, file, contentLength));
    if (!got)
      throw problems.unprocessable(chatErrors.fileRequired, "send multipart/form-data with a `file` part", [
        { field: "/file", message: "required" },
      ]);
    return got.value;
  }

  /** A file given whole or as a stream (the REST route parses its multipart body into this). */
  async upload(userId: string, file: IncomingFile): Promise<FileInfo> {
    await this.admit(userId);
    return this.accept(userId, file, file.data instanceof Uint8Array ? file.data.byteLength : null);
  }

  private async admit(userId: string): Promise<void> {
    const gate = await this.limiter.hit(`chat-upload:user:${userId}`, this.rule);
    if (!gate.allowed)
      throw problems.tooManyRequests(
        chatErrors.rateLimited,
        gate.retryAfterMs,
        `at most ${this.settings.perMinute} uploads a minute; slow down`,
      );
  }

  /** `sizeBound`: what the file cannot exceed (the request's length), known before its bytes. */
  private async accept(userId: string, file: IncomingFile, sizeBound: number | null): Promise<FileInfo> {
    const name = cleanFileName(file.name);
    const declared = checkDeclared(file.type, name);
    if (!declared.ok) throw refuse(declared);
    // Held for the whole upload, so parallel uploads cannot each pass the quota on their own
    // (the request's length bounds the file; without one, the check after streaming decides).
    const hold = Math.min(declared.limit, sizeBound ?? 0);
    // Reserved before the check awaits anything: parallel uploads see each other's holds.
    const inFlight = this.reserved.get(userId) ?? 0;
    this.reserved.set(userId, inFlight + hold);
    try {
      await this.checkQuota(userId, inFlight + hold);
      const id = Bun.randomUUIDv7();
      const storageKey = `chat/${id.slice(-2)}/${id}`;
      const size = await this.stream(file.data, declared, storageKey);
      const record: FileRecord = {
        id,
        uploaderId: userId,
        name,
        mime: declared.mime,
        size,
        category: declared.category,
        storage: this.blobs.kind,
        storageKey,
        createdAt: this.clock.now(),
        deletedAt: null,
      };
      try {
        // Again with the real size: another instance may have stored files meanwhile.
        await this.checkQuota(userId, size);
        // Bytes first: a record never points at a blob that is not there.
        await this.store.insertFile(record);
      } catch (err) {
        await this.blobs.delete(storageKey).catch(() => undefined);
        throw err;
      }
      return toFileInfo(record);
    } finally {
      const left = (this.reserved.get(userId) ?? hold) - hold;
      if (left > 0) this.reserved.set(userId, left);
      else this.reserved.delete(userId);
    }
  }

  private async checkQuota(userId: string, adding: number): Promise<void> {
    const used = await this.ledger.bytesOf(userId);
    if (used + adding <= this.settings.quotaBytes) return;
    const mib = (n: number) => Math.round((n / MiB) * 10) / 10;
    this.logger.info("upload over the storage quota", { userId, used, adding, quota: this.settings.quotaBytes });
    throw new HttpProblem(
      413,
      chatErrors.storageQuotaExceeded,
      `your files take ${mib(used)} MiB of your ${mib(this.settings.quotaBytes)} MiB; this upload would pass it (delete files you no longer need)`,
    );
  }

  /** Streams the bytes to a new blob, checking content and size; returns the size. */
  private async stream(data: IncomingFile["data"], declared: DeclaredUpload, key: string): Promise<number> {
    const head: Uint8Array[] = [];
    let size = 0;
    let writer: BlobWriter | null = null;
    try {
      for await (const chunk of chunksOf(data)) {
        size += chunk.byteLength;
        if (size > declared.limit) throw refuse(tooLarge(declared));
        if (writer) await writer.write(chunk);
        else {
          head.push(chunk);
          if (size >= sniffBytes) writer = await this.open(head, declared, key);
        }
      }
      if (size === 0) throw refuse(emptyFile);
      writer ??= await this.open(head, declared, key);
      await writer.commit();
      return size;
    } catch (err) {
      await writer?.abort().catch((e: unknown) => this.logger.warn("partial upload not removed", { key, err: String(e) }));
      throw err;
    }
  }

  /** Checks the first bytes, then opens the blob with them. */
  private async open(head: Uint8Array[], declared: DeclaredUpload, key: string): Promise<BlobWriter> {
    const first = Buffer.concat(head);
    if (!declared.sniff(first.subarray(0, sniffBytes))) throw refuse(contentMismatch(declared));
    const writer = await this.blobs.writer(key, declared.mime);
    try {
      await writer.write(first);
    } catch (err) {
      await writer.abort().catch(() => undefined);
      throw err;
    }
    return writer;
  }
}
