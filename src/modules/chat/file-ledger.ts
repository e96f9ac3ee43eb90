// What uploads need to know about a user's files beyond the ChatStore port: the bytes they
// take (the storage quota) and the files never posted in a message (removed after an age by
// the worker-role sweeper below). SQLite and MongoDB, like the store; file-ledger tests in
// files.test.ts run both.
import type { Database } from "bun:sqlite";
import type { Collection, Db } from "mongodb";
import type { Clock } from "../../platform/clock";
import type { GroupCommitWriter } from "../../platform/db/sqlite";
import type { Logger } from "../../platform/logger";
import { IntervalJob } from "../../platform/jobs";
import type { BlobStore } from "./files";

/** A file to sweep: its id and where its bytes are. */
export interface SweptFile {
  id: string;
  storageKey: string;
}

/** Where a scan of old files goes on: after this file (upload time, then id). */
export interface ScanMark {
  createdAt: number;
  id: string;
}

export interface UnpostedPage {
  files: SweptFile[];
  /** Pass it back for the next page; null when the scan is done. */
  next: ScanMark | null;
}

export interface FileLedger {
  init(): Promise<void>;
  /** Bytes of the user's files that are not deleted. */
  bytesOf(userId: string): Promise<number>;
  /**
   * Files not deleted, created before `before`, that no message ever carried; oldest first, in
   * pages of at most `limit` files looked at, after `after`.
   */
  unposted(before: number, limit: number, after: ScanMark | null): Promise<UnpostedPage>;
  /** Marks the file deleted if it is still live and still unposted; false otherwise. */
  dropUnposted(id: string, at: number): Promise<boolean>;
}

export class SqliteFileLedger implements FileLedger {
  private readonly q;

  constructor(
    db: Database,
    private readonly writer: GroupCommitWriter,
  ) {
    this.q = {
      bytes: db.query<{ bytes: number | null }, [string]>(
        "SELECT sum(size) AS bytes FROM chat_files WHERE uploader_id = ? AND deleted_at IS NULL",
      ),
      unposted: db.query<{ id: string; storage_key: string; created_at: number }, [number, number, string, number]>(
        `SELECT id, storage_key, created_at FROM chat_files f
         WHERE deleted_at IS NULL AND created_at < ? AND (created_at, id) > (?, ?)
           AND NOT EXISTS (SELECT 1 FROM chat_messages m WHERE m.file_id = f.id)
         ORDER BY created_at, id LIMIT ?`,
      ),
      // One statement: a message that carries the file after the select keeps it.
      drop: db.query<unknown, [number, string, string]>(
        `UPDATE chat_files SET deleted_at = ?
         WHERE id = ? AND deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM chat_messages m WHERE m.file_id = ?)`,
      ),
    };
  }

  async init(): Promise<void> {}

  async bytesOf(userId: string): Promise<number> {
    return this.q.bytes.get(userId)?.bytes ?? 0;
  }

  async unposted(before: number, limit: number, after: ScanMark | null): Promise<UnpostedPage> {
    const rows = this.q.unposted.all(before, after?.createdAt ?? -1, after?.id ?? "", limit);
    const last = rows.at(-1);
    return {
      files: rows.map((r) => ({ id: r.id, storageKey: r.storage_key })),
      next: rows.length === limit && last ? { createdAt: last.created_at, id: last.id } : null,
    };
  }

  dropUnposted(id: string, at: number): Promise<boolean> {
    return this.writer.write(() => this.q.drop.run(at, id, id).changes === 1);
  }
}

interface FileDoc {
  _id: string;
  uploaderId: string;
  size: number;
  storageKey: string;
  createdAt: number;
  deletedAt: number | null;
}

export class MongoFileLedger implements FileLedger {
  private readonly files: Collection<FileDoc>;
  private readonly messages: Collection<{ _id: string; fileId: string | null }>;
  private ready: Promise<void> | null = null;

  constructor(db: Db) {
    this.files = db.collection("chat_files");
    this.messages = db.collection("chat_messages");
  }

  init(): Promise<void> {
    this.ready ??= (async () => {
      await Promise.all([
        this.files.createIndex({ uploaderId: 1, deletedAt: 1 }, { name: "uploader_live" }),
        this.files.createIndex({ deletedAt: 1, createdAt: 1 }, { name: "live_created" }),
      ]);
    })();
    return this.ready;
  }

  async bytesOf(userId: string): Promise<number> {
    const [sum] = await this.files
      .aggregate<{ bytes: number }>([
        { $match: { uploaderId: userId, deletedAt: null } },
        { $group: { _id: null, bytes: { $sum: "$size" } } },
      ])
      .toArray();
    return sum?.bytes ?? 0;
  }

  async unposted(before: number, limit: number, after: ScanMark | null): Promise<UnpostedPage> {
    const later = after ? { $or: [{ createdAt: { $gt: after.createdAt } }, { createdAt: after.createdAt, _id: { $gt: after.id } }] } : {};
    // Posted files are filtered out after the page is read: the scan mark moves past them.
    const candidates = await this.files
      .find({ deletedAt: null, createdAt: { $lt: before }, ...later }, { projection: { _id: 1, storageKey: 1, createdAt: 1 } })
      .sort({ createdAt: 1, _id: 1 })
      .limit(limit)
      .toArray();
    const last = candidates.at(-1);
    if (!last) return { files: [], next: null };
    const posted = new Set((await this.messages.distinct("fileId", { fileId: { $in: candidates.map((f) => f._id) } })).map(String));
    return {
      files: candidates.filter((f) => !posted.has(f._id)).map((f) => ({ id: f._id, storageKey: f.storageKey })),
      next: candidates.length === limit ? { createdAt: last.createdAt, id: last._id } : null,
    };
  }

  async dropUnposted(id: string, at: number): Promise<boolean> {
    // No transaction across collections: a message inserted between this check and the update
    // shows no file (as after a delete); the age makes that a file its uploader forgot about.
    if (await this.messages.findOne({ fileId: id }, { projection: { _id: 1 } })) return false;
    const { modifiedCount } = await this.files.updateOne({ _id: id, deletedAt: null }, { $set: { deletedAt: at } });
    return modifiedCount === 1;
  }
}

export interface SweeperSettings {
  /** Files never posted are removed this long after their upload. */
  maxAgeMs: number;
  /** How often the sweep runs (it also runs once at start). */
  intervalMs: number;
}

/** Removes files never posted in a message once they are older than the age (worker roles). */
export class UnpostedFileSweeper extends IntervalJob {
  constructor(
    private readonly ledger: FileLedger,
    private readonly blobs: BlobStore,
    private readonly settings: SweeperSettings,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    super("chat-unposted-files", settings.intervalMs, logger);
  }

  protected tick(): Promise<number> {
    return this.sweep();
  }

  /** One sweep: returns how many files it removed. */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    const before = now - this.settings.maxAgeMs;
    const batch = 100;
    let removed = 0;
    // Bounded: a sweep that cannot finish (a store answering slowly) leaves the rest to the next one.
    let after: ScanMark | null = null;
    for (let round = 0; round < 100 && !this.stopped; round++) {
      const page: UnpostedPage = await this.ledger.unposted(before, batch, after);
      for (const file of page.files) {
        if (!(await this.ledger.dropUnposted(file.id, now))) continue;
        removed++;
        await this.blobs
          .delete(file.storageKey)
          .catch((err: unknown) => this.logger.warn("unposted file's bytes not removed", { fileId: file.id, err: String(err) }));
      }
      after = page.next;
      if (!after) break;
    }
    if (removed > 0) this.logger.info("unposted files removed", { removed, olderThan: new Date(before).toISOString() });
    // Half-written uploads of a process that died: by the files' own times (the file system's
    // clock, not the injected one), past the same age.
    const partials = await this.blobs.sweepPartials(Date.now() - this.settings.maxAgeMs);
    if (partials > 0) this.logger.info("partial uploads left by a crash removed", { partials });
    return removed;
  }
}
