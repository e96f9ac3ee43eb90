// Presence: who has a live connection in a room, across every instance. The hub counts its
// own connections and calls enter/exit only on a user's first/last local connection to a
// room; this store answers whether that changed the user's presence cluster-wide.
//
// Redis: one hash per room, field "<userId>|<instanceId>" → expiry (ms). Each instance
// refreshes its fields every heartbeat, so the fields of a crashed instance expire.
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

export class RedisPresence implements PresenceStore {
  readonly kind = "redis" as const;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly instanceId: string,
    /** How long an entry lives without a heartbeat. */
    private readonly ttlMs: number,
    /** Entries expire by this clock (the key itself, a safety net, by Redis's own). */
    private readonly clock: Clock,
  ) {}

  private key(roomId: string) {
    return `${this.prefix}chat:presence:${roomId}`;
  }
  private field(userId: string) {
    return `${userId}|${this.instanceId}`;
  }

  async enter(roomId: string, userId: string): Promise<boolean> {
    const now = this.clock.now();
    const r = await this.redis.eval(enterScript, 1, this.key(roomId), userId, this.field(userId), String(now), String(now + this.ttlMs), String(this.ttlMs * 4));
    return r === 1;
  }

  async exit(roomId: string, userId: string): Promise<boolean> {
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
    const pipeline = this.redis.pipeline();
    for (const e of entries) pipeline.hset(this.key(e.roomId), this.field(e.userId), String(now + this.ttlMs));
    for (const roomId of rooms) {
      pipeline.pexpire(this.key(roomId), this.ttlMs * 4);
      pipeline.eval(pruneScript, 1, this.key(roomId), String(now));
    }
    const results = (await pipeline.exec()) ?? [];
    const gone: Array<{ roomId: string; userId: string }> = [];
    const pruned = results.slice(entries.length).filter((_, i) => i % 2 === 1);
    pruned.forEach(([, users], i) => {
      for (const userId of (users as string[] | null) ?? []) gone.push({ roomId: rooms[i]!, userId });
    });
    return gone;
  }
}
