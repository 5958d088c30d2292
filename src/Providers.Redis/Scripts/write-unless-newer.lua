-- Last-writer-wins write of one circuit hash, skipped when the stored state is newer, in one round trip:
-- a write that was abandoned and arrives late never replaces a newer state.
-- KEYS[1]: the circuit hash.
-- ARGV[1]: the stateTimestamp written; ARGV[2]: '1' to delete the lease fields;
-- ARGV[3 .. #ARGV-1]: field, value pairs to set; ARGV[#ARGV]: the item expiry (item-expiry.lua).
-- Returns 1 when written, 0 when skipped.
local key = KEYS[1]
local stored = tonumber(redis.call('HGET', key, 'stateTimestamp') or '')
if stored and stored > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', key, unpack(ARGV, 3, #ARGV - 1))
if ARGV[2] == '1' then
  redis.call('HDEL', key, 'probeLeaseOwner', 'probeLeaseExpires', 'probeLeaseEpisode')
end
set_item_expiry(key)
return 1
