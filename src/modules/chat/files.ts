// Chat uploads: what may be uploaded (MIME type ↔ extension ↔ content must agree, size per
// category) and where the bytes go — the data dir, or S3-compatible storage via Bun's client.
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { chatErrors, type ChatErrorCode } from "./errors";
import type { FileCategory } from "./model";

const MiB = 1024 * 1024;
export const categoryLimits: Record<FileCategory, number> = {
  image: 10 * MiB,
  video: 50 * MiB,
  audio: 20 * MiB,
  document: 20 * MiB,
};
/** The largest upload body: the largest file plus room for the multipart framing. */
export const maxUploadBodyBytes = categoryLimits.video + 64 * 1024;

type Sniff = (head: Uint8Array) => boolean;

const ascii = (head: Uint8Array, at: number, text: string) => {
  for (let i = 0; i < text.length; i++) if (head[at + i] !== text.charCodeAt(i)) return false;
  return true;
};
const bytes = (head: Uint8Array, at: number, values: number[]) => values.every((v, i) => head[at + i] === v);

const png: Sniff = (h) => bytes(h, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const jpeg: Sniff = (h) => bytes(h, 0, [0xff, 0xd8, 0xff]);
const gif: Sniff = (h) => ascii(h, 0, "GIF87a") || ascii(h, 0, "GIF89a");
const webp: Sniff = (h) => ascii(h, 0, "RIFF") && ascii(h, 8, "WEBP");
const isoBmff: Sniff = (h) => ascii(h, 4, "ftyp");
const ebml: Sniff = (h) => bytes(h, 0, [0x1a, 0x45, 0xdf, 0xa3]);
const mp3: Sniff = (h) => ascii(h, 0, "ID3") || (h[0] === 0xff && ((h[1] ?? 0) & 0xe0) === 0xe0);
const ogg: Sniff = (h) => ascii(h, 0, "OggS");
const wav: Sniff = (h) => ascii(h, 0, "RIFF") && ascii(h, 8, "WAVE");
const flac: Sniff = (h) => ascii(h, 0, "fLaC");
const pdf: Sniff = (h) => ascii(h, 0, "%PDF-");
const zip: Sniff = (h) => bytes(h, 0, [0x50, 0x4b, 0x03, 0x04]);
const ole: Sniff = (h) => bytes(h, 0, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
/** Text: valid UTF-8 with no NUL and no markup that a browser could take for a page. */
const text: Sniff = (h) => {
  if (h.includes(0)) return false;
  // The head may end inside a multi-byte character: drop an incomplete tail before decoding.
  let end = h.length;
  for (let back = 1; back <= 3 && end - back >= 0; back++) {
    const b = h[end - back]!;
    if ((b & 0xc0) === 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      if (back < need) end -= back;
      break;
    }
    if ((b & 0x80) === 0) break;
  }
  try {
    const s = new TextDecoder("utf-8", { fatal: true }).decode(h.subarray(0, end));
    return !/^\s*<(!doctype|html|script|svg)/i.test(s);
  } catch {
    return false;
  }
};

interface Kind {
  category: FileCategory;
  extensions: string[];
  sniff: Sniff;
}

/** Accepted MIME types. SVG and HTML are refused on purpose: they run script when opened. */
export const allowedTypes: Record<string, Kind> = {
  "image/png": { category: "image", extensions: ["png"], sniff: png },
  "image/jpeg": { category: "image", extensions: ["jpg", "jpeg"], sniff: jpeg },
  "image/gif": { category: "image", extensions: ["gif"], sniff: gif },
  "image/webp": { category: "image", extensions: ["webp"], sniff: webp },
  "video/mp4": { category: "video", extensions: ["mp4", "m4v"], sniff: isoBmff },
  "video/quicktime": { category: "video", extensions: ["mov"], sniff: isoBmff },
  "video/webm": { category: "video", extensions: ["webm"], sniff: ebml },
  "audio/mpeg": { category: "audio", extensions: ["mp3"], sniff: mp3 },
  "audio/ogg": { category: "audio", extensions: ["ogg", "oga", "opus"], sniff: ogg },
  "audio/wav": { category: "audio", extensions: ["wav"], sniff: wav },
  "audio/x-wav": { category: "audio", extensions: ["wav"], sniff: wav },
  "audio/mp4": { category: "audio", extensions: ["m4a"], sniff: isoBmff },
  "audio/webm": { category: "audio", extensions: ["weba", "webm"], sniff: ebml },
  "audio/flac": { category: "audio", extensions: ["flac"], sniff: flac },
  "application/pdf": { category: "document", extensions: ["pdf"], sniff: pdf },
  "text/plain": { category: "document", extensions: ["txt", "log"], sniff: text },
  "text/csv": { category: "document", extensions: ["csv"], sniff: text },
  "text/markdown": { category: "document", extensions: ["md", "markdown"], sniff: text },
  "application/zip": { category: "document", extensions: ["zip"], sniff: zip },
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": { category: "document", extensions: ["docx"], sniff: zip },
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": { category: "document", extensions: ["xlsx"], sniff: zip },
  "application/vnd.openxmlformats-officedocument.presentationml.presentation": { category: "document", extensions: ["pptx"], sniff: zip },
  "application/vnd.oasis.opendocument.text": { category: "document", extensions: ["odt"], sniff: zip },
  "application/msword": { category: "document", extensions: ["doc"], sniff: ole },
  "application/vnd.ms-excel": { category: "document", extensions: ["xls"], sniff: ole },
  "application/vnd.ms-powerpoint": { category: "document", extensions: ["ppt"], sniff: ole },
};

export interface UploadRefusal {
  ok: false;
  status: 413 | 415 | 422;
  code: ChatErrorCode;
  detail: string;
}

/** What an upload declared, once accepted: its type, category and size limit. */
export interface DeclaredUpload {
  ok: true;
  mime: string;
  category: FileCategory;
  limit: number;
  /** Whether the first bytes are of this type (give it at least `sniffBytes`, or the whole file). */
  sniff: Sniff;
}

/** How many leading bytes the content check reads. */
export const sniffBytes = 4096;

/**
 * Checks what is known before the content: the declared MIME type and the file name's extension.
 * The size (per category) and the first bytes are checked as the content streams in.
 */
export function checkDeclared(declaredType: string, name: string): DeclaredUpload | UploadRefusal {
  const mime = declaredType.split(";")[0]!.trim().toLowerCase();
  const kind = allowedTypes[mime];
  if (!kind)
    return { ok: false, status: 415, code: chatErrors.unsupportedType, detail: `${mime || "(none)"} is not an accepted file type` };
  const ext = /\.([A-Za-z0-9]{1,10})$/.exec(name)?.[1]?.toLowerCase();
  if (!ext || !kind.extensions.includes(ext)) {
    return {
      ok: false,
      status: 422,
      code: chatErrors.extensionMismatch,
      detail: `a ${mime} file must be named *.${kind.extensions.join(" or *.")}`,
    };
  }
  return { ok: true, mime, category: kind.category, limit: categoryLimits[kind.category], sniff: kind.sniff };
}

export const tooLarge = (upload: DeclaredUpload): UploadRefusal => ({
  ok: false,
  status: 413,
  code: chatErrors.fileTooLarge,
  detail: `${upload.category} files are limited to ${upload.limit / MiB} MiB`,
});
export const emptyFile: UploadRefusal = { ok: false, status: 422, code: chatErrors.emptyFile, detail: "the file is empty" };
export const contentMismatch = (upload: DeclaredUpload): UploadRefusal => ({
  ok: false,
  status: 422,
  code: chatErrors.contentMismatch,
  detail: `the content is not ${upload.mime}`,
});

/** A file name safe for storage and for Content-Disposition: no path, no control characters. */
export function cleanFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  // eslint-disable-next-line no-control-regex
  const clean = base
    .replace(/[\u0000-\u001f\u007f"]/g, "")
    .trim()
    .slice(-200);
  return clean === "" ? "file" : clean;
}

/** A blob being written: bytes go out as they come; commit makes them visible under the key. */
export interface BlobWriter {
  write(chunk: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  /** Drops what was written: nothing is left under the key (or beside it). */
  abort(): Promise<void>;
}

export interface BlobStore {
  readonly kind: "local" | "s3";
  /** Starts writing a new blob; its bytes are streamed, never held whole in memory. */
  writer(key: string, mime: string): Promise<BlobWriter>;
  /** The bytes, or null when missing. */
  get(key: string): Promise<Blob | null>;
  delete(key: string): Promise<void>;
  /**
   * Removes what writers left behind when the process died mid-upload (aborted writers clean up
   * themselves), if last written before `before` (epoch ms); returns how many. S3 has nothing to
   * sweep: a multipart upload never completed is not an object.
   */
  sweepPartials(before: number): Promise<number>;
}

export class LocalBlobStore implements BlobStore {
  readonly kind = "local" as const;
  constructor(private readonly dir: string) {}

  private path(key: string) {
    return join(this.dir, key);
  }

  async writer(key: string): Promise<BlobWriter> {
    const path = this.path(key);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Written aside and renamed: a crash never leaves a half file under the real name.
    const partial = `${path}.${Bun.randomUUIDv7()}.part`;
    // Created 0600 and exclusively; Bun's file sink then writes it without copying each chunk.
    closeSync(openSync(partial, "wx", 0o600));
    const sink = Bun.file(partial).writer({ highWaterMark: 256 * 1024 });
    let ended = false;
    const end = async () => {
      if (ended) return;
      ended = true;
      await sink.end();
    };
    return {
      async write(chunk) {
        const pending = sink.write(chunk);
        if (typeof pending !== "number") await pending;
      },
      async commit() {
        await end();
        renameSync(partial, path);
      },
      async abort() {
        await end().catch(() => undefined);
        rmSync(partial, { force: true });
      },
    };
  }

  async get(key: string): Promise<Blob | null> {
    const file = Bun.file(this.path(key));
    return (await file.exists()) ? file : null;
  }

  async delete(key: string): Promise<void> {
    rmSync(this.path(key), { force: true });
  }

  async sweepPartials(before: number): Promise<number> {
    if (!existsSync(this.dir)) return 0;
    let removed = 0;
    for await (const name of new Bun.Glob("**/*.part").scan({ cwd: this.dir, onlyFiles: true })) {
      const path = join(this.dir, name);
      const stat = statSync(path, { throwIfNoEntry: false });
      if (!stat || stat.mtimeMs >= before) continue;
      rmSync(path, { force: true });
      removed++;
    }
    return removed;
  }
}

export interface S3Settings {
  bucket: string;
  endpoint: string | null;
  region: string | null;
  accessKeyId: string | null;
  secretAccessKey: string | null;
}

// S3's smallest multipart part. Bun's writer buffers whatever it is given (write() never waits),
// so the writer flushes at each part: an upload holds about two parts, never the file.
const s3PartBytes = 5 * MiB;

export class S3BlobStore implements BlobStore {
  readonly kind = "s3" as const;
  private readonly client: Bun.S3Client;

  constructor(settings: S3Settings) {
    this.client = new Bun.S3Client({
      bucket: settings.bucket,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.region ? { region: settings.region } : {}),
      ...(settings.accessKeyId ? { accessKeyId: settings.accessKeyId } : {}),
      ...(settings.secretAccessKey ? { secretAccessKey: settings.secretAccessKey } : {}),
    });
  }

  async writer(key: string, mime: string): Promise<BlobWriter> {
    const sink = this.client.file(key).writer({ type: mime, partSize: s3PartBytes, queueSize: 1, retry: 3 });
    let unflushed = 0;
    return {
      async write(chunk) {
        sink.write(chunk);
        unflushed += chunk.byteLength;
        if (unflushed >= s3PartBytes) {
          unflushed = 0;
          await sink.flush();
        }
      },
      async commit() {
        await sink.end();
      },
      // Bun's writer cannot abandon a multipart upload (end(error) completes it): finish, then delete.
      abort: async () => {
        await Promise.resolve(sink.end()).catch(() => undefined);
        await this.client.delete(key).catch(() => undefined);
      },
    };
  }

  async get(key: string): Promise<Blob | null> {
    const file = this.client.file(key);
    return (await file.exists()) ? file : null;
  }

  async delete(key: string): Promise<void> {
    await this.client.delete(key);
  }

  async sweepPartials(): Promise<number> {
    return 0;
  }
}
