-- Claims the half-open probe lease of one circuit hash, in one round trip.
-- KEYS[1]: the circuit hash.
-- ARGV[1]: n, the number of owned fields; ARGV[2 .. n+1]: their names (returned encoded as in try-replace.lua);
-- ARGV[n+2]: the lease owner; ARGV[n+3]: the lease expiry; ARGV[n+4]: now (epoch milliseconds);
-- ARGV[n+5]: the item expiry (item-expiry.lua).
-- Claims only if circuitState is HALF-OPEN (or the legacy HALF) and no lease is valid: one with an owner, an expiry after
-- now, and an episode equal to the stored nextAttempt (a lease from an earlier half-open episode never blocks).
-- The claim records the episode (nextAttempt, created as 0 if missing) and stateTimestamp = now.
-- Returns {1 or 0, current value of each field after the call}.
local key = KEYS[1]
local n = tonumber(ARGV[1])
local owner = ARGV[n + 2]
local expires = ARGV[n + 3]
local now = tonumber(ARGV[n + 4])
local state = redis.call('HGET', key, 'circuitState')
local next_attempt = redis.call('HGET', key, 'nextAttempt')
local held_by = redis.call('HGET', key, 'probeLeaseOwner')
local held_until = tonumber(redis.call('HGET', key, 'probeLeaseExpires') or '')
local episode = redis.call('HGET', key, 'probeLeaseEpisode')
local valid = held_by and episode and episode == (next_attempt or '0') and held_until and held_until > now
local claimed = 0
if (state == 'HALF-OPEN' or state == 'HALF') and not valid then
  next_attempt = next_attempt or '0'
  redis.call('HSET', key, 'probeLeaseOwner', owner, 'probeLeaseExpires', expires, 'probeLeaseEpisode', next_attempt,
    'nextAttempt', next_attempt, 'stateTimestamp', ARGV[n + 4])
  set_item_expiry(key)
  claimed = 1
end
local current = redis.call('HMGET', key, unpack(ARGV, 2, n + 1))
local result = {claimed}
for i = 1, n do
  if current[i] then result[i + 1] = '=' .. current[i] else result[i + 1] = '!' end
end
return result
