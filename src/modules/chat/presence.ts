// Presence: who has a live connection in a room, across every instance. The hub counts its
// own connections and calls enter/exit only on a user's first/last local connection to a
// room; this store answers whether that changed the user's presence cluster-wide.
//
// Redis: one hash per room, field "<userId>|<instanceId>" → expiry (ms). Each instance
// refreshes its fields every heartbeat, so the fields of a crashed instance expire.
//
// A crashed instance's users must go offline for everyone within a bound, with an event. Each
// instance also holds a lease: a score (its expiry, ms) in one sorted set, renewed with every
// heartbeat (a third of the TTL) and lasting two thirds of it, plus the set of rooms it has
// entries in. At each heartbeat a survivor looks for leases past their expiry; claiming one is
// atomic (a script that removes the lease only if it is still expired), so exactly one survivor
// drops the dead instance's fields and reports the users left with no live entry anywhere; its
// hub broadcasts them offline on every instance. Bound with the chat module's 9 s TTL: the dead
// instance's last renewal is at most 3 s before it dies, its lease ends 6 s after that renewal,
// and a survivor beats every 3 s: offline within 9 s of the crash (plus the fanout).
// A live instance whose heartbeats stopped for longer than the lease (a stalled event loop)
// is treated as dead; its next heartbeat puts its users back (without an online event).
//
// Since the lease says whether an instance lives, an entry's own expiry is only a safety net
// (for entries no reaper found): it lasts 20 TTLs (3 min) and a heartbeat renews only the
// entries and rooms due, a third of that after their last renewal. Renewing every entry and
// pruning every room at every beat cost ~4,000 Redis commands per instance per 3 s at 25,000
// sockets on 8 instances, and those bursts held Redis past the 500 ms command timeout (the
// multi-instance chat ramp: read marks and joins failed every 3 s).
// When the instance finds its own lease gone (reaped while stalled), it renews everything.
import type Redis from "ioredis";
import type { Clock } from "../../platform/clock";

export interface PresenceStore {
  readonly kind: "redis" | "memory";
  /** True when the user was not online in the room on any instance before. */
  enter(roomId: string, userId: string): Promise<boolean>;
  /** True when the user is now offline in the room on every instance. */
  exit(roomId: string, userId: string): Promise<boolean>;
  online(roomId: string): Promise<Set<string>>;
  /** Keeps this instance's entries alive; returns users whose entries (of other, dead instances) expired. */
  heartbeat(entries: Array<{ roomId: string; userId: string }>): Promise<Array<{ roomId: string; userId: string }>>;
}

export class MemoryPresence implements PresenceStore {
  readonly kind = "memory" as const;
  private readonly rooms = new Map<string, Set<string>>();

  async enter(roomId: string, userId: string): Promise<boolean> {
    let users = this.rooms.get(roomId);
    if (!users) this.rooms.set(roomId, (users = new Set()));
    if (users.has(userId)) return false;
    users.add(userId);
    return true;
  }

  async exit(roomId: string, userId: string): Promise<boolean> {
    const users = this.rooms.get(roomId);
    if (!users?.delete(userId)) return false;
    if (users.size === 0) this.rooms.delete(roomId);
    return true;
  }

  async online(roomId: string): Promise<Set<string>> {
    return new Set(this.rooms.get(roomId));
  }

  async heartbeat(): Promise<Array<{ roomId: string; userId: string }>> {
    return [];
  }
}

// Shared by the scripts: is `user` live in the hash under another instance than `self`?
const liveElsewhere = `
local function live_elsewhere(key, user, self, now)
  local all = redis.call('HGETALL', key)
  local prefix = user .. '|'
  for i = 1, #all, 2 do
    local f = all[i]
    if f ~= self and string.sub(f, 1, #prefix) == prefix and tonumber(all[i + 1]) > now then return true end
  end
  return false
end`;

// KEYS: room hash. ARGV: user, field, now, expiry, key ttl.
const enterScript = `${liveElsewhere}
local was = live_elsewhere(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]))
local mine = redis.call('HGET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if was or (mine and tonumber(mine) > tonumber(ARGV[3])) then return 0 end
return 1`;

const exitScript = `${liveElsewhere}
redis.call('HDEL', KEYS[1], ARGV[2])
if live_elsewhere(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])) then return 0 end
return 1`;

// KEYS: room hash. ARGV: now. Removes expired fields; returns the users left with no live field.
const pruneScript = `
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local live, dead = {}, {}
for i = 1, #all, 2 do
  local user = string.match(all[i], '^(.*)|[^|]*$')
  if tonumber(all[i + 1]) > now then live[user] = true
  else
    redis.call('HDEL', KEYS[1], all[i])
    dead[user] = true
  end
end
local out = {}
for user in pairs(dead) do if not live[user] then table.insert(out, user) end end
return out`;

// KEYS: instances (sorted set), the dead instance's rooms (set), then one room hash per room.
// ARGV: dead instance id, now, then the room ids. Claims the lease only if it is still expired,
// drops the instance's fields, returns {roomId, userId, ...} for users left with no live field.
const reapScript = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local now = tonumber(ARGV[2])
if not score or tonumber(score) > now then return {} end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
local suffix = '|' .. ARGV[1]
local out = {}
for i = 3, #KEYS do
  local all = redis.call('HGETALL', KEYS[i])
  local removed, live = {}, {}
  for j = 1, #all, 2 do
    local f = all[j]
    local user = string.match(f, '^(.*)|[^|]*$')
    if #f > #suffix and string.sub(f, -#suffix) == suffix then
      redis.call('HDEL', KEYS[i], f)
      removed[user] = true
    elseif tonumber(all[j + 1]) > now then
      live[user] = true
    end
  end
  for user in pairs(removed) do
    if not live[user] then
      table.insert(out, ARGV[i])
      table.insert(out, user)
    end
  end
end
return out`;

/** The local bookkeeping's key for one (room, user) entry of this instance. */
const entryKey = (roomId: string, userId: string) => `${roomId}\n${userId}`;

export class RedisPresence implements PresenceStore {
  readonly kind = "redis" as const;
  /** How long an instance's lease lasts without a heartbeat: two beats. */
  private readonly leaseMs: number;
  /** How long an entry (and its room's key) lives in Redis without a renewal. */
  private readonly entryTtlMs: number;
  /** When each (room, user) entry of ours and each room's key were last written. */
  private readonly entryRenewed = new Map<string, number>();
  private readonly roomRenewed = new Map<string, number>();
  /** Our lease was found missing (reaped, or never held): the next heartbeat renews everything. */
  private renewAll = true;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly instanceId: string,
    /** The presence TTL: the hub beats every third of it, a lease lasts two thirds, an entry 20 times it. */
    ttlMs: number,
    /** Entries expire by this clock (the key itself, a safety net, by Redis's own). */
    private readonly clock: Clock,
  ) {
    this.leaseMs = Math.floor((ttlMs * 2) / 3);
    this.entryTtlMs = ttlMs * 20;
  }

  private key(roomId: string) {
    return `${this.prefix}chat:presence:${roomId}`;
  }
  private field(userId: string) {
    return `${userId}|${this.instanceId}`;
  }
  private get instancesKey() {
    return `${this.prefix}chat:presence:instances`;
  }
  private roomsKey(instanceId: string) {
    return `${this.prefix}chat:presence:rooms:${instanceId}`;
  }

  async enter(roomId: string, userId: string): Promise<boolean> {
    const now = this.clock.now();
    const r = await this.redis
      .multi()
      .zadd(this.instancesKey, String(now + this.leaseMs), this.instanceId)
      .sadd(this.roomsKey(this.instanceId), roomId)
      .pexpire(this.roomsKey(this.instanceId), this.entryTtlMs)
      .eval(enterScript, 1, this.key(roomId), userId, this.field(userId), String(now), String(now + this.entryTtlMs), String(this.entryTtlMs * 2))
      .exec();
    const [err, result] = r?.[3] ?? [new Error("presence enter: no reply"), null];
    if (err) throw err;
    if (r?.[0]?.[1] === 1) this.renewAll = true;
    this.entryRenewed.set(entryKey(roomId, userId), now);
    this.roomRenewed.set(roomId, now);
    return result === 1;
  }

  async exit(roomId: string, userId: string): Promise<boolean> {
    this.entryRenewed.delete(entryKey(roomId, userId));
    const r = await this.redis.eval(exitScript, 1, this.key(roomId), userId, this.field(userId), String(this.clock.now()));
    return r === 1;
  }

  async online(roomId: string): Promise<Set<string>> {
    const now = this.clock.now();
    const all = await this.redis.hgetall(this.key(roomId));
    const users = new Set<string>();
    for (const [field, expiry] of Object.entries(all)) {
      if (Number(expiry) > now) users.add(field.slice(0, field.lastIndexOf("|")));
    }
    return users;
  }

  async heartbeat(entries: Array<{ roomId: string; userId: string }>): Promise<Array<{ roomId: string; userId: string }>> {
    const now = this.clock.now();
    const rooms = [...new Set(entries.map((e) => e.roomId))];
    // Our lease, the rooms a survivor would clean up after us (exactly the current ones), and
    // the leases that ran out.
    const lease = this.redis.pipeline();
    lease.zadd(this.instancesKey, String(now + this.leaseMs), this.instanceId);
    lease.del(this.roomsKey(this.instanceId));
    if (rooms.length > 0) lease.sadd(this.roomsKey(this.instanceId), ...rooms);
    lease.pexpire(this.roomsKey(this.instanceId), this.entryTtlMs);
    lease.zrangebyscore(this.instancesKey, "-inf", String(now));
    const leased = (await lease.exec()) ?? [];
    const failedLease = leased.find(([err]) => err);
    if (failedLease) throw failedLease[0];
    if (leased[0]?.[1] === 1) this.renewAll = true;
    const dead = ((leased.at(-1)?.[1] as string[] | null) ?? []).filter((id) => id !== this.instanceId);

    // The entries and rooms due (all of them when our lease had been lost), then forget what is gone.
    const all = this.renewAll;
    const dueBefore = now - this.entryTtlMs / 3;
    const entryKeys = entries.map((e) => entryKey(e.roomId, e.userId));
    const due = entries.flatMap((e, i) => (all || (this.entryRenewed.get(entryKeys[i]!) ?? -Infinity) <= dueBefore ? [{ ...e, key: entryKeys[i]! }] : []));
    const dueRooms = rooms.filter((r) => all || (this.roomRenewed.get(r) ?? -Infinity) <= dueBefore);
    const gone: Array<{ roomId: string; userId: string }> = [];
    if (due.length > 0 || dueRooms.length > 0) {
      const pipeline = this.redis.pipeline();
      for (const e of due) pipeline.hset(this.key(e.roomId), this.field(e.userId), String(now + this.entryTtlMs));
      for (const roomId of dueRooms) {
        pipeline.pexpire(this.key(roomId), this.entryTtlMs * 2);
        pipeline.eval(pruneScript, 1, this.key(roomId), String(now));
      }
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([err]) => err);
      if (failed) throw failed[0];
      const pruned = results.slice(due.length).filter((_, i) => i % 2 === 1);
      pruned.forEach(([, users], i) => {
        for (const userId of (users as string[] | null) ?? []) gone.push({ roomId: dueRooms[i]!, userId });
      });
      for (const e of due) this.entryRenewed.set(e.key, now);
      for (const roomId of dueRooms) this.roomRenewed.set(roomId, now);
    }
    // Renewed (a failed pipeline threw above, so the next beat tries everything again). Only the
    // flag this beat acted on: an enter that found the lease gone meanwhile keeps its own.
    if (all) this.renewAll = false;
    const current = new Set(entryKeys);
    for (const k of this.entryRenewed.keys()) if (!current.has(k)) this.entryRenewed.delete(k);
    const currentRooms = new Set(rooms);
    for (const r of this.roomRenewed.keys()) if (!currentRooms.has(r)) this.roomRenewed.delete(r);

    for (const id of dead) gone.push(...(await this.reap(id, now)));
    return gone;
  }

  /** Claims a dead instance's lease (one survivor wins) and drops its entries. */
  private async reap(instanceId: string, now: number): Promise<Array<{ roomId: string; userId: string }>> {
    const rooms = await this.redis.smembers(this.roomsKey(instanceId));
    const flat = (await this.redis.eval(reapScript, 2 + rooms.length, this.instancesKey, this.roomsKey(instanceId), ...rooms.map((r) => this.key(r)), instanceId, String(now), ...rooms)) as string[];
    const out: Array<{ roomId: string; userId: string }> = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ roomId: flat[i]!, userId: flat[i + 1]! });
    return out;
  }
}
