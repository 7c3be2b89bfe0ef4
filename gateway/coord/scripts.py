"""The Lua scripts the Redis shell runs, one atomic call each. They repeat the pure cores' rules
(`lease.LeaseTable`, `gcra.reserve`, `tokengate.decide`, `members.MemberTable`); tests/gateway/test_coord_redis.py runs both on the
same inputs against a real redis-server.

Times are integers passed in by the caller from the injected clock (milliseconds; microseconds for GCRA),
never Redis's own `TIME`: one clock everywhere, and step-mode tests move lease expiry with fakekis's manual
clock. Redis `PX` expiries are garbage collection only; no decision reads them.

Lease value: `<owner>:<epoch>:<expires_ms>`. Token value: `<expires_ms>:<token>`. Gate value: `<taken_ms>`.
"""

from __future__ import annotations

_LEASE = r"""
local function parse(v)
  local o, e, x = string.match(v, '^(.*):(%d+):(%d+)$')
  return o, e, tonumber(x)
end
"""

ACQUIRE = (
    _LEASE
    + r"""
-- KEYS: lease, epoch, vacant   ARGV: owner, ttl_ms, now_ms, gc_ms, grace_ms
-- A key nobody wrote (first start, or a wiped store) is taken only after it was seen empty for grace_ms.
local now = tonumber(ARGV[3])
local v = redis.call('GET', KEYS[1])
if v then
  local o, e, x = parse(v)
  if x and x > now then return 0 end
else
  local since = tonumber(redis.call('GET', KEYS[3]))
  if not since then
    since = now
    redis.call('SET', KEYS[3], string.format('%d', now), 'PX', ARGV[4])
  end
  if now - since < tonumber(ARGV[5]) then return 0 end
end
redis.call('DEL', KEYS[3])
local e = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. e .. ':' .. string.format('%d', now + tonumber(ARGV[2])), 'PX', ARGV[4])
return e
"""
)

RENEW = (
    _LEASE
    + r"""
-- KEYS: lease, epoch, vacant   ARGV: owner, epoch, ttl_ms, now_ms, gc_ms
-- The same epoch: renewed. Another: the key had vanished (a restart without persistence) and was re-taken.
local now = tonumber(ARGV[4])
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('DEL', KEYS[3])
  local e = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. e .. ':' .. string.format('%d', now + tonumber(ARGV[3])), 'PX', ARGV[5])
  return e
end
local o, e, x = parse(v)
if o ~= ARGV[1] or e ~= ARGV[2] then return 0 end
local nx = math.max(x, now + tonumber(ARGV[3]))
redis.call('SET', KEYS[1], o .. ':' .. e .. ':' .. string.format('%d', nx), 'PX', ARGV[5])
return tonumber(e)
"""
)

RELEASE = (
    _LEASE
    + r"""
-- KEYS: lease, events channel   ARGV: owner, epoch, appkey id, gc_ms
-- Leaves a released marker (no owner, expired), so the next acquire need not wait out the vacancy grace.
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local o, e = parse(v)
if o ~= ARGV[1] or e ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ':' .. e .. ':0', 'PX', ARGV[4])
redis.call('PUBLISH', KEYS[2], 'released:' .. ARGV[3])
return 1
"""
)

PUBLISH = (
    _LEASE
    + r"""
-- KEYS: lease, ticks, quotes, seq   ARGV: owner, epoch, now_ms, maxlen, then per entry: kind, r, payload, symbol
-- Fenced: only the lease's current owner with its epoch, before expiry, may write; else -1.
-- Each entry gets the next number `n` from `seq` (across leaders), so readers can see a trimmed hole.
local v = redis.call('GET', KEYS[1])
if not v then return -1 end
local o, e, x = parse(v)
if o ~= ARGV[1] or e ~= ARGV[2] or x <= tonumber(ARGV[3]) then return -1 end
local count = (#ARGV - 4) / 4
local seq = redis.call('INCRBY', KEYS[4], count) - count
local n = 0
for i = 5, #ARGV, 4 do
  local kind = ARGV[i]
  local field = 'w'
  if kind == 'data' then field = 'f' end
  seq = seq + 1
  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'k', kind, 'e', e, 'r', ARGV[i + 1], field, ARGV[i + 2], 'n', seq)
  if ARGV[i + 3] ~= '' then
    redis.call('HSET', KEYS[3], ARGV[i + 3], id .. '|' .. e .. '|' .. ARGV[i + 1] .. '|' .. ARGV[i + 2])
  end
  n = n + 1
end
return n
"""
)

SNAPSHOT = r"""
-- KEYS: quotes, ticks, seq   Returns the stream's last id, the number of the last entry written (`seq`), and
-- the latest data entry per symbol, atomically, so a follower loads the snapshot and then reads the stream
-- from exactly where the snapshot ends.
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local id = '0-0'
if last[1] then id = last[1][1] end
local seq = redis.call('GET', KEYS[3]) or '0'
return {id, seq, redis.call('HGETALL', KEYS[1])}
"""

GCRA = r"""
-- KEYS: rest   ARGV: now_us, interval_us, max_wait_us   Returns the wait in microseconds, or -1 (refused).
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]))
local slot = now
if tat and tat > now then slot = tat end
local wait = slot - now
if wait > tonumber(ARGV[3]) then return -1 end
local nt = slot + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%d', nt), 'PX', math.floor((nt - now) / 1000) + 60000)
return wait
"""

TOKEN_CLAIM = r"""
-- KEYS: token, gate   ARGV: now_ms, margin_ms, gate_ms, gc_ms
-- {'use', value} | {'wait', taken_ms} | {'issue', ''} (the caller took the gate: it alone calls tokenP)
local now = tonumber(ARGV[1])
local t = redis.call('GET', KEYS[1])
if t then
  local exp = tonumber(string.match(t, '^(%d+):'))
  if exp and exp - now > tonumber(ARGV[2]) then return {'use', t} end
end
local g = tonumber(redis.call('GET', KEYS[2]))
if g and now - g < tonumber(ARGV[3]) then return {'wait', string.format('%d', g)} end
redis.call('SET', KEYS[2], string.format('%d', now), 'PX', ARGV[4])
return {'issue', ''}
"""

TOKEN_DROP = r"""
-- KEYS: token   ARGV: the rejected token   Compare-and-delete: a fresher token written meanwhile stays.
local t = redis.call('GET', KEYS[1])
if not t then return 0 end
local v = string.match(t, '^%d+:(.*)$')
if v ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

MEMBERS_BEAT = r"""
-- KEYS: members (sorted set)   ARGV: owner, now_ms, ttl_ms, gc_ms   Returns the live count, this one included.
-- A member whose last beat is ttl_ms old or older is gone (`members.MemberTable`).
local now = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('ZCARD', KEYS[1])
"""
