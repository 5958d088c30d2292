-- Counts one failure of a closed circuit and opens it at the threshold, in one atomic round trip.
-- KEYS[1]: the circuit hash.
-- ARGV[1]: n, the number of owned fields; ARGV[2 .. n+1]: their names (returned encoded as in try-replace.lua);
-- ARGV[n+2]: now; ARGV[n+3]: the window start (an older last failure no longer counts);
-- ARGV[n+4]: the count at which the circuit opens; ARGV[n+5]: the next attempt time of an opened circuit;
-- ARGV[n+6]: how many failures the request counts.
-- Numbers are read with the grammar of the .NET parser: digits, an optional fraction and exponent, no sign.
-- Returns {0 not counted | 1 counted | 2 counted and opened, current value of each field after the call}.
local key = KEYS[1]
local n = tonumber(ARGV[1])
local now = ARGV[n + 2]
local window_start = tonumber(ARGV[n + 3])
local open_at = tonumber(ARGV[n + 4])
local open_until = ARGV[n + 5]
local adding = tonumber(ARGV[n + 6])
local max_count = '9223372036854775807'

local function number(text)
  if not text then return 0 end
  if not (string.match(text, '^%d+$') or string.match(text, '^%d+%.%d+$') or string.match(text, '^%d+%.?%d*[eE][-+]?%d+$')) then
    return nil
  end
  local value = tonumber(text)
  if value == nil or value ~= value or value == math.huge then return nil end
  return math.floor(value + 0.5)
end

local function current_fields()
  local current = redis.call('HMGET', key, unpack(ARGV, 2, n + 1))
  local encoded = {}
  for i = 1, n do
    if current[i] then encoded[i] = '=' .. current[i] else encoded[i] = '!' end
  end
  return encoded
end

local outcome = 0
local state = redis.call('HGET', key, 'circuitState')
local count_text = redis.call('HGET', key, 'failureCount')
local count = number(count_text)
local last_failure = number(redis.call('HGET', key, 'lastFailureTime'))
if (not state or state == 'CLOSED') and count and last_failure then
  local next_count
  if last_failure ~= 0 and last_failure < window_start then
    next_count = adding
  elseif count + adding >= 9007199254740992 then
    next_count = nil
  else
    next_count = count + adding
  end
  local next_text = next_count and string.format('%.0f', next_count) or max_count
  redis.call('HSET', key, 'circuitState', 'CLOSED', 'failureCount', next_text, 'lastFailureTime', now, 'stateTimestamp', now)
  outcome = 1
  if (next_count or open_at) >= open_at then
    redis.call('HSET', key, 'circuitState', 'OPEN', 'successCount', '0', 'consecutiveOpens', '0', 'nextAttempt', open_until)
    redis.call('HDEL', key, 'probeLeaseOwner', 'probeLeaseExpires', 'probeLeaseEpisode')
    outcome = 2
  end
end

local result = {outcome}
for i, value in ipairs(current_fields()) do result[i + 1] = value end
return result
