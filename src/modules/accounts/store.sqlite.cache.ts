// What the auth check (every authenticated request) and the account reads keep in memory, and
// why it stays exact with any number of processes on one data dir.
//
// Each cache is valid under one counter of the accounts_epoch row (migration 0005): triggers move
// the counter in the transaction of any change that could make a cached value wrong, whoever
// writes it. Reading that row costs a SQLite read transaction (WAL read locks, syscalls; several
// µs under load), so it is read only when something may have committed since the last look: the
// WAL index header at the start of the -shm file (https://www.sqlite.org/walformat.html, §2.2)
// changes with every commit of every connection, ours included. Compared with the copy taken at
// the last look, it says whether anything committed. It is read from a read-only shared mapping of
// the file's first page (a few ns); where that mapping cannot be made, by one pread of its 96 bytes
// (~0.35 µs alone, ~1.5 µs in a busy server: a system call on every authenticated request).
//
// Order matters for exactness: the header is read before the counters, and the counters before
// any row is cached; a commit that lands in between changes the header again, so the next look
// reads the counters again.
//
// The -shm file is opened once per file and process, and that descriptor is never closed: closing
// any descriptor of a file drops every POSIX lock the process holds on it, SQLite's included. The
// mapping is made from that descriptor (mmap through bun:ffi), not with Bun.mmap, which opens and
// closes one of its own: with its locks gone, this process's connection looked absent to another
// process's, which rebuilt the -shm under the mapping, and the server died of SIGBUS (the restore
// drill's read-only second process). While a connection of ours has the file open it holds its
// shared lock, so no other connection rebuilds the file (SQLite truncates it to 3 bytes, never to 0,
// so the mapped first page stays inside the file); and a watch reads only while its connection is open.
import type { Database } from "bun:sqlite";
import { dlopen, FFIType, toArrayBuffer } from "bun:ffi";
import { existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";

/** The two copies of the WAL index header, 48 bytes each. */
const headerBytes = 96;

/** An open -shm file: its descriptor and, where it could be made, a view of its mapped header. */
interface ShmFile {
  fd: number;
  header: Uint32Array | null;
}

/** One read-only descriptor (and mapping) per -shm file for the life of the process (see above: never closed). */
const shmFiles = new Map<string, ShmFile>();

const PROT_READ = 1;
const MAP_SHARED = 1;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
let libc: { mmap: (addr: bigint, length: bigint, prot: number, flags: number, fd: number, offset: bigint) => bigint } | null | undefined;

/** The first page of `fd` mapped shared and read-only, viewed as the header's words; null where mmap is not at hand. */
function mapHeader(fd: number): Uint32Array | null {
  if (libc === undefined) {
    try {
      libc =
        process.platform === "linux"
          ? dlopen("libc.so.6", {
              mmap: { args: [FFIType.u64, FFIType.u64, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i64], returns: FFIType.u64 },
            }).symbols
          : null;
    } catch {
      libc = null;
    }
  }
  if (libc === null) return null;
  const address = libc.mmap(0n, 4096n, PROT_READ, MAP_SHARED, fd, 0n);
  if (address === MAP_FAILED || address === 0n) return null;
  // Never unmapped, like the descriptor: one page per file and process.
  return new Uint32Array(toArrayBuffer(Number(address), 0, headerBytes));
}

function shmFile(shmPath: string): ShmFile {
  const current = statSync(shmPath).ino;
  const known = shmFiles.get(shmPath);
  if (known !== undefined && fstatSync(known.fd).ino === current) return known;
  // A new file at that path (the old one was replaced while no connection of ours had it open):
  // a descriptor of its own; the old one stays open, as every descriptor of a -shm file does.
  const fd = openSync(shmPath, "r");
  const file = { fd, header: fstatSync(fd).size >= headerBytes ? mapHeader(fd) : null };
  shmFiles.set(shmPath, file);
  return file;
}

/**
 * Whether any connection may have committed to the database since the last call. Always "yes"
 * where the header cannot be read (an in-memory database, no -shm yet, a short read).
 */
export class CommitWatch {
  private file: ShmFile | null = null;
  private closed = false;
  private readonly now = new Uint32Array(headerBytes / 4);
  private readonly nowBytes = new Uint8Array(this.now.buffer);
  private readonly last = new Uint32Array(headerBytes / 4);
  private readonly shmPath: string | null;

  constructor(dbPath: string) {
    this.shmPath = dbPath === "" || dbPath === ":memory:" ? null : `${resolve(dbPath)}-shm`;
  }

  /** How the header is read: from the mapping, by pread, or not at all (yet). Tests, diagnostics. */
  get reads(): "mapped" | "pread" | "none" {
    if (this.file === null) return "none";
    return this.file.header === null ? "pread" : "mapped";
  }

  /** Attached once this process's connection has the -shm open (past its first read). */
  private attach(): ShmFile | null {
    if (this.shmPath === null || !existsSync(this.shmPath)) return null;
    try {
      return shmFile(this.shmPath);
    } catch {
      return null;
    }
  }

  /** Call with the connection open and past its first read; reads the header before answering. */
  changed(): boolean {
    const file = this.closed ? null : (this.file ??= this.attach());
    if (file === null) return true;
    let now = file.header;
    if (now === null) {
      let read: number;
      try {
        read = readSync(file.fd, this.nowBytes, 0, headerBytes, 0);
      } catch {
        return true;
      }
      if (read < headerBytes) return true;
      now = this.now;
    }
    // Each word read once: a commit under way shows as a change now or at the next look.
    const { last } = this;
    for (let i = 0; i < last.length; i++) {
      if (now[i] !== last[i]) {
        last.set(now);
        return true;
      }
    }
    return false;
  }

  /** Before the connection closes: from then on every call answers "changed". */
  close(): void {
    this.closed = true;
    this.file = null;
  }
}

/** A bounded map: past `max` entries the oldest is dropped (insertion order). */
class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  set(key: K, value: V): void {
    if (this.map.size >= this.max && !this.map.has(key)) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }

  clear(): boolean {
    const had = this.map.size > 0;
    this.map.clear();
    return had;
  }
}

/**
 * The caches and the counters they were filled under: session auth states by session id, and
 * live accounts by id. sync() before every cached read drops a cache whose counter moved; a
 * value read from SQLite after that sync may be put. Counts its looks at the counters and its
 * drops (tests, tuning).
 */
export class EpochCaches<A, U> {
  private readonly auth: BoundedMap<string, A>;
  private readonly users: BoundedMap<string, U>;
  /** looks: syncs (what a read mark counts); reads: those that read the counters. */
  readonly stats = { looks: 0, reads: 0, authDrops: 0, userDrops: 0 };
  private readonly watch: CommitWatch;
  private readonly epoch;
  /** The counters as last read; null: unknown (no row), nothing is cached. */
  private seen: { auth: number; users: number } | null = null;

  constructor(db: Database, max: number) {
    this.watch = new CommitWatch(db.filename);
    this.epoch = db.query<{ auth: number; users: number }, []>("SELECT auth, users FROM accounts_epoch WHERE id = 1");
    this.auth = new BoundedMap(max);
    this.users = new BoundedMap(max);
  }

  /** The mark of the latest look at the counters: how many there were. */
  get mark(): number {
    return this.stats.looks;
  }

  /**
   * sync() unless no look happened since the one that gave `mark`: a later read of the same
   * request may rely on its auth check's look. That serves the state as of that look, a moment
   * inside the request — what any write finished before the request began had made. A request
   * that writes must not pass its mark to a read after its write.
   */
  syncUnless(mark: number | undefined): void {
    if (mark === undefined || mark !== this.stats.looks || this.seen === null) this.sync();
  }

  sync(): void {
    this.stats.looks++;
    // Nothing committed anywhere since the counters were last read: they still hold.
    if (!this.watch.changed() && this.seen !== null) return;
    this.stats.reads++;
    const now = this.epoch.get();
    if (now === null || now.auth !== this.seen?.auth) {
      if (this.auth.clear()) this.stats.authDrops++;
    }
    if (now === null || now.users !== this.seen?.users) {
      if (this.users.clear()) this.stats.userDrops++;
    }
    this.seen = now === null ? null : { auth: now.auth, users: now.users };
  }

  authState(sessionId: string): A | undefined {
    return this.auth.get(sessionId);
  }

  putAuthState(sessionId: string, state: A): void {
    if (this.seen !== null) this.auth.set(sessionId, state);
  }

  user(id: string): U | undefined {
    return this.users.get(id);
  }

  putUser(id: string, user: U): void {
    if (this.seen !== null) this.users.set(id, user);
  }

  close(): void {
    this.watch.close();
    this.seen = null;
    this.auth.clear();
    this.users.clear();
  }
}
