-- Compare-and-set of one circuit hash, in one round trip.
-- KEYS[1]: the circuit hash.
-- ARGV[1]: n, the number of owned fields; ARGV[2 .. n+1]: their names;
-- ARGV[n+2 .. 2n+1]: the expected value of each, '=' .. value, or '!' when the field must be missing;
-- ARGV[2n+2 .. 3n+1]: the value to write, '=' .. value, or '!' to delete the field; ARGV[3n+2]: the item expiry (item-expiry.lua).
-- Returns {1} when written, else {0, current value of each field encoded as above}.
local key = KEYS[1]
local n = tonumber(ARGV[1])
local current = redis.call('HMGET', key, unpack(ARGV, 2, n + 1))
local encoded = {}
local unchanged = true
for i = 1, n do
  if current[i] then encoded[i] = '=' .. current[i] else encoded[i] = '!' end
  if encoded[i] ~= ARGV[n + 1 + i] then unchanged = false end
end
if not unchanged then
  return {0, unpack(encoded)}
end
local set = {}
local delete = {}
for i = 1, n do
  local value = ARGV[2 * n + 1 + i]
  if value == '!' then
    delete[#delete + 1] = ARGV[1 + i]
  else
    set[#set + 1] = ARGV[1 + i]
    set[#set + 1] = string.sub(value, 2)
  end
end
if #set > 0 then redis.call('HSET', key, unpack(set)) end
if #delete > 0 then redis.call('HDEL', key, unpack(delete)) end
set_item_expiry(key)
return {1}
