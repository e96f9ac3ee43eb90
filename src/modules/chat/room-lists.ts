// A room's hot lists (its first history page, its members, its read marks) kept beside the store,
// so that a join reads no collection: a join reads all three, and on a MongoDB wire-protocol
// server that cannot use its indexes (FerretDB on SQLite) each was a scan of everything ever
// written. Used in front of the Mongo store (store.cached.ts); Redis when configured (shared by
// every instance), memory otherwise.
//
// Writes keep the lists current instead of dropping them, which is what makes a busy room cheap:
//   begin(room) ── store write ── end(room, changes)
// - While any write of the room is under way, a list may be read but not filled from the store
//   (the store may or may not hold that write yet).
// - end() bumps the room's version and applies each change (upsert or remove a row) to every list
//   stamped with the version before; a list stamped otherwise is dropped. Writes to one room
//   commute (upserts by id, removals, forward-only read marks), so ends may land in any order.
// - A fill carries the version its miss saw; it is refused once any write ended (or began) since.
// - A writer that stops between its store write and end() leaves its lease: the first read after
//   the lease ran out drops the room's lists, so a crash leaves them stale for at most the lease.
// - dropAll() (an author renamed or deleted: their rows in every room change) moves the epoch
//   every stamp carries.
import type Redis from "ioredis";
import type { Clock } from "../../platform/clock";
import { defineScript } from "../../platform/redis";

/** How a list is ordered and bounded, and how a row is identified. */
export interface ListSpec {
  /** The field that identifies a row. */
  id: string;
  /** Sort fields, compared in turn. */
  order: string[];
  desc: boolean;
  /** Rows kept (the first ones in order); 0: no bound. A removal from a full list drops it. */
  max: number;
  /** An upsert replaces a row only when this field grows (read marks move forward only). */
  keepMax?: string;
}

export type ListChange =
  | { list: string; op: "upsert"; row: Record<string, unknown> }
  | { list: string; op: "remove"; id: string }
  /** The whole list, for a room created by this write: applied only if no other write ended since begin(). */
  | { list: string; op: "seed"; rows: Record<string, unknown>[] };

export type ListRead = { hit: true; rows: Record<string, unknown>[] } | { hit: false; ticket: string | null };

export interface RoomLists {
  readonly kind: "redis" | "memory";
  read(roomId: string, list: string): Promise<ListRead>;
  /** Stores rows read from the store after a miss, unless a write of the room intervened. */
  fill(roomId: string, list: string, ticket: string, rows: Record<string, unknown>[]): Promise<void>;
  /** Before a store write to the room; returns the write's handle for end(). */
  begin(roomId: string): Promise<WriteHandle>;
  /** After the store write (also after a failed one, with no changes: the lists are re-read). */
  end(write: WriteHandle, changes: ListChange[] | null): Promise<void>;
  dropAll(): Promise<void>;
}

export interface WriteHandle {
  roomId: string;
  id: string;
  /** The room's version when the write began (seeds need it unchanged). */
  version: number;
}

/** A writer's lease: how long its end() may take before the room's lists are given up. */
export const writeLeaseMs = 30_000;
const listTtlMs = 10 * 60_000;

function before(spec: ListSpec, a: Record<string, unknown>, b: Record<string, unknown>): number {
  for (const f of spec.order) {
    const x = a[f] as string | number;
    const y = b[f] as string | number;
    if (x !== y) return (x < y ? -1 : 1) * (spec.desc ? -1 : 1);
  }
  return 0;
}

/** Applies a change in place; false: the list can no longer be known without the store. */
export function applyChange(spec: ListSpec, rows: Record<string, unknown>[], change: ListChange): boolean {
  if (change.op === "seed") return true;
  const key = change.op === "remove" ? change.id : change.row[spec.id];
  const at = rows.findIndex((r) => r[spec.id] === key);
  if (change.op === "remove") {
    if (at < 0) return true;
    if (spec.max > 0 && rows.length >= spec.max) return false;
    rows.splice(at, 1);
    return true;
  }
  if (at >= 0) {
    if (spec.keepMax && (rows[at]![spec.keepMax] as string) >= (change.row[spec.keepMax] as string)) return true;
    rows[at] = change.row;
  } else rows.push(change.row);
  rows.sort((a, b) => before(spec, a, b));
  if (spec.max > 0 && rows.length > spec.max) rows.length = spec.max;
  return true;
}

interface MemoryRoom {
  version: number;
  writes: Map<string, number>;
  lists: Map<string, { stamp: string; rows: Record<string, unknown>[] }>;
}

/**
 * One process: the same rules, with the lease on the injected clock. Versions come from one
 * counter, so a room forgotten to stay within `maxRooms` never sees a version it had before.
 */
export class MemoryRoomLists implements RoomLists {
  readonly kind = "memory" as const;
  private readonly rooms = new Map<string, MemoryRoom>();
  private epoch = 0;
  private versions = 0;
  private seq = 0;

  constructor(
    private readonly specs: Record<string, ListSpec>,
    private readonly clock: Clock,
    private readonly maxRooms = 10_000,
    private readonly leaseMs = writeLeaseMs,
  ) {}

  private room(roomId: string): MemoryRoom {
    let room = this.rooms.get(roomId);
    if (room) {
      // Most recently used last: the first rooms are the ones forgotten.
      this.rooms.delete(roomId);
      this.rooms.set(roomId, room);
      return room;
    }
    this.rooms.set(roomId, (room = { version: ++this.versions, writes: new Map(), lists: new Map() }));
    if (this.rooms.size > this.maxRooms) {
      for (const [id, old] of this.rooms) {
        if (old.writes.size > 0) continue;
        this.rooms.delete(id);
        break;
      }
    }
    return room;
  }

  private pending(room: MemoryRoom): number {
    const now = this.clock.now();
    let expired = false;
    for (const [id, deadline] of room.writes) {
      if (deadline > now) continue;
      room.writes.delete(id);
      expired = true;
    }
    if (expired) {
      room.version = ++this.versions;
      room.lists.clear();
    }
    return room.writes.size;
  }

  async read(roomId: string, list: string): Promise<ListRead> {
    const room = this.room(roomId);
    const pending = this.pending(room);
    const stamp = `${this.epoch}:${room.version}`;
    const held = room.lists.get(list);
    if (held && held.stamp === stamp) return { hit: true, rows: structuredClone(held.rows) };
    return { hit: false, ticket: pending > 0 ? null : stamp };
  }

  async fill(roomId: string, list: string, ticket: string, rows: Record<string, unknown>[]): Promise<void> {
    const room = this.room(roomId);
    if (this.pending(room) > 0 || ticket !== `${this.epoch}:${room.version}`) return;
    room.lists.set(list, { stamp: ticket, rows: structuredClone(rows) });
  }

  async begin(roomId: string): Promise<WriteHandle> {
    const room = this.room(roomId);
    const id = String(++this.seq);
    room.writes.set(id, this.clock.now() + this.leaseMs);
    return { roomId, id, version: room.version };
  }

  async end(write: WriteHandle, changes: ListChange[] | null): Promise<void> {
    const room = this.room(write.roomId);
    room.writes.delete(write.id);
    const oldStamp = `${this.epoch}:${room.version}`;
    const unchanged = room.version === write.version;
    room.version = ++this.versions;
    const stamp = `${this.epoch}:${room.version}`;
    if (changes === null) {
      room.lists.clear();
      return;
    }
    for (const [name, held] of room.lists) {
      if (held.stamp !== oldStamp) {
        room.lists.delete(name);
        continue;
      }
      const spec = this.specs[name]!;
      let ok = true;
      for (const c of changes) if (c.list === name && ok) ok = applyChange(spec, held.rows, structuredClone(c));
      if (ok) held.stamp = stamp;
      else room.lists.delete(name);
    }
    if (unchanged) for (const c of changes) if (c.op === "seed") room.lists.set(c.list, { stamp, rows: structuredClone(c.rows) });
  }

  async dropAll(): Promise<void> {
    this.epoch++;
    for (const room of this.rooms.values()) room.lists.clear();
  }
}

// Shared by the read and fill scripts: the lease check (the last ARGV is the caller's clock, ms).
// KEYS[1] the room's hash (v: version, <list>.s: stamp, <list>.r: rows as JSON), KEYS[2] its
// writes (sorted set: write id → deadline ms), KEYS[3] the epoch.
const leases = `
local function pending()
  local now = tonumber(ARGV[#ARGV])
  if redis.call('ZCOUNT', KEYS[2], '-inf', now) > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
    local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'v', v)
    redis.call('PEXPIRE', KEYS[1], ${listTtlMs})
  end
  return redis.call('ZCARD', KEYS[2])
end
local function stamp()
  return (redis.call('GET', KEYS[3]) or '0') .. ':' .. (redis.call('HGET', KEYS[1], 'v') or '0')
end
`;

// KEYS: room hash, writes, epoch. ARGV: list, now. → {1, rows} | {0, ticket or ''}
const readLua = `${leases}
local waiting = pending()
local s = stamp()
local held = redis.call('HMGET', KEYS[1], ARGV[1] .. '.s', ARGV[1] .. '.r')
if held[1] == s then return {1, held[2]} end
if waiting > 0 then return {0, ''} end
return {0, s}`;

// KEYS: room hash, writes, epoch. ARGV: list, ticket, rows JSON, now.
const fillLua = `${leases}
if pending() > 0 then return 0 end
if stamp() ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1] .. '.s', ARGV[2], ARGV[1] .. '.r', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ${listTtlMs})
return 1`;

// KEYS: room hash, writes. ARGV: write id, deadline, lease ms. → the room's version
const beginLua = `
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], 2 * tonumber(ARGV[3]))
return tonumber(redis.call('HGET', KEYS[1], 'v') or '0')`;

// KEYS: room hash, writes, epoch. ARGV: write id, version at begin, changes JSON ('null': drop
// every list), specs JSON. The same rules as applyChange.
const endLua = `
redis.call('ZREM', KEYS[2], ARGV[1])
local e = redis.call('GET', KEYS[3]) or '0'
local old = redis.call('HGET', KEYS[1], 'v') or '0'
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
local oldStamp = e .. ':' .. old
local s = e .. ':' .. v
local changes = cjson.decode(ARGV[3])
local specs = cjson.decode(ARGV[4])
local function drop(list) redis.call('HDEL', KEYS[1], list .. '.s', list .. '.r') end
local function before(spec, a, b)
  for _, f in ipairs(spec.order) do
    local x, y = a[f], b[f]
    if x ~= y then
      if spec.desc then return x > y end
      return x < y
    end
  end
  return false
end
local function apply(spec, rows, c)
  if c.op == 'seed' then return true end
  local key = c.id
  if c.op ~= 'remove' then key = c.row[spec.id] end
  local at = nil
  for i, r in ipairs(rows) do if r[spec.id] == key then at = i break end end
  if c.op == 'remove' then
    if at == nil then return true end
    if spec.max > 0 and #rows >= spec.max then return false end
    table.remove(rows, at)
    return true
  end
  if at ~= nil then
    if spec.keepMax and rows[at][spec.keepMax] >= c.row[spec.keepMax] then return true end
    rows[at] = c.row
  else
    table.insert(rows, c.row)
  end
  table.sort(rows, function(a, b) return before(spec, a, b) end)
  if spec.max > 0 then while #rows > spec.max do table.remove(rows) end end
  return true
end
for list, spec in pairs(specs) do
  local held = redis.call('HMGET', KEYS[1], list .. '.s', list .. '.r')
  if held[1] then
    if changes == cjson.null or held[1] ~= oldStamp then
      drop(list)
    else
      local rows = nil
      local ok = true
      for _, c in ipairs(changes) do
        if c.list == list and c.op ~= 'seed' and ok then
          rows = rows or cjson.decode(held[2])
          ok = apply(spec, rows, c)
        end
      end
      if not ok then drop(list)
      elseif rows then redis.call('HSET', KEYS[1], list .. '.s', s, list .. '.r', #rows == 0 and '[]' or cjson.encode(rows))
      else redis.call('HSET', KEYS[1], list .. '.s', s) end
    end
  end
end
if changes ~= cjson.null and old == ARGV[2] then
  for _, c in ipairs(changes) do
    if c.op == 'seed' then redis.call('HSET', KEYS[1], c.list .. '.s', s, c.list .. '.r', #c.rows == 0 and '[]' or cjson.encode(c.rows)) end
  end
end
redis.call('PEXPIRE', KEYS[1], ${listTtlMs})
return v`;

/** Rows from Lua's cjson: an empty array comes back as an empty object. */
const parseRows = (json: string): Record<string, unknown>[] => {
  const rows = JSON.parse(json) as unknown;
  return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
};

/** Shared by every instance; leases run on the instances' clocks (one host, or NTP: seconds of skew against a 30 s lease). */
export class RedisRoomLists implements RoomLists {
  readonly kind = "redis" as const;
  private readonly readScript;
  private readonly fillScript;
  private readonly beginScript;
  private readonly endScript;
  private readonly specsJson: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    specs: Record<string, ListSpec>,
    private readonly clock: Clock,
    private readonly leaseMs = writeLeaseMs,
  ) {
    this.readScript = defineScript(redis, "homebaseChatListRead", 3, readLua);
    this.fillScript = defineScript(redis, "homebaseChatListFill", 3, fillLua);
    this.beginScript = defineScript(redis, "homebaseChatListBegin", 2, beginLua);
    this.endScript = defineScript(redis, "homebaseChatListEnd", 3, endLua);
    this.specsJson = JSON.stringify(specs);
  }

  private keys(roomId: string): [string, string, string] {
    return [`${this.prefix}chat:lists:${roomId}`, `${this.prefix}chat:lists:${roomId}:writes`, `${this.prefix}chat:lists:epoch`];
  }

  async read(roomId: string, list: string): Promise<ListRead> {
    const [hit, value] = (await this.readScript(this.keys(roomId), [list, this.clock.now()])) as [number, string];
    if (hit === 1) return { hit: true, rows: parseRows(value) };
    return { hit: false, ticket: value === "" ? null : value };
  }

  async fill(roomId: string, list: string, ticket: string, rows: Record<string, unknown>[]): Promise<void> {
    await this.fillScript(this.keys(roomId), [list, ticket, JSON.stringify(rows), this.clock.now()]);
  }

  async begin(roomId: string): Promise<WriteHandle> {
    const id = Bun.randomUUIDv7();
    const version = (await this.beginScript(this.keys(roomId).slice(0, 2), [id, this.clock.now() + this.leaseMs, this.leaseMs])) as number;
    return { roomId, id, version };
  }

  async end(write: WriteHandle, changes: ListChange[] | null): Promise<void> {
    await this.endScript(this.keys(write.roomId), [write.id, String(write.version), JSON.stringify(changes), this.specsJson]);
  }

  async dropAll(): Promise<void> {
    await this.redis.incr(this.keys("")[2]);
  }
}
