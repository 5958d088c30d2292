-- Counts one failure of a closed circuit and opens it at the threshold, in one atomic round trip.
-- KEYS[1]: the circuit hash.
-- ARGV[1]: n, the number of owned fields; ARGV[2 .. n+1]: their names (returned encoded as in try-replace.lua);
-- ARGV[n+2]: now; ARGV[n+3]: the window start (an older last failure no longer counts);
-- ARGV[n+4]: the count at which the circuit opens; ARGV[n+5]: the next attempt time of an opened circuit;
-- ARGV[n+6]: how many failures the request counts; ARGV[n+7]: the counting environment's id ('' for none);
-- ARGV[n+8]: how many distinct environments the episode needs before the circuit opens (1: no quorum, no ids kept);
-- ARGV[n+9], ARGV[n+10]: who opens the circuit and what tipped it, recorded by the request that opens it ('' for unknown);
-- ARGV[n+11]: the item expiry (item-expiry.lua).
-- Numbers are read with the grammar of the .NET parser: digits, an optional fraction and exponent, no sign.
-- Returns {0 not counted | 1 counted | 2 counted and opened, current value of each field after the call}.
local key = KEYS[1]
local n = tonumber(ARGV[1])
local now = ARGV[n + 2]
local window_start = tonumber(ARGV[n + 3])
local open_at = tonumber(ARGV[n + 4])
local open_until = ARGV[n + 5]
local adding = tonumber(ARGV[n + 6])
local environment = ARGV[n + 7]
local quorum = tonumber(ARGV[n + 8])
local opened_by = ARGV[n + 9]
local opened_reason = ARGV[n + 10]
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
-- A failure from before the closed circuit's last change of state (a close, a reset), with nothing counted since,
-- belongs to the episode that ended: it counts nothing.
local state_timestamp = number(redis.call('HGET', key, 'stateTimestamp'))
local predates_episode = count == 0 and state_timestamp ~= nil and state_timestamp > tonumber(now)
if (not state or state == 'CLOSED') and count and last_failure and not predates_episode then
  local next_count
  local previous = count
  if last_failure ~= 0 and last_failure < window_start then
    previous = 0
    next_count = adding
  elseif count + adding >= 9007199254740992 then
    next_count = nil
  else
    next_count = count + adding
  end
  -- A quorum's environments belong to the counting episode: a count from zero starts a new one.
  local environments = {}
  if quorum > 1 then
    local seen = {}
    if previous ~= 0 then
      for id in string.gmatch(redis.call('HGET', key, 'failingEnvironments') or '', '%S+') do
        if not seen[id] then seen[id] = true; environments[#environments + 1] = id end
      end
    end
    if environment ~= '' and not seen[environment] and #environments < quorum then
      environments[#environments + 1] = environment
    end
    table.sort(environments)
    if #environments > 0 then
      redis.call('HSET', key, 'failingEnvironments', table.concat(environments, ' '))
    else
      redis.call('HDEL', key, 'failingEnvironments')
    end
  end
  local next_text = next_count and string.format('%.0f', next_count) or max_count
  redis.call('HSET', key, 'circuitState', 'CLOSED', 'failureCount', next_text, 'lastFailureTime', now, 'stateTimestamp', now)
  outcome = 1
  if (next_count or open_at) >= open_at and (quorum <= 1 or #environments >= quorum) then
    redis.call('HSET', key, 'circuitState', 'OPEN', 'successCount', '0', 'consecutiveOpens', '0', 'nextAttempt', open_until)
    redis.call('HDEL', key, 'probeLeaseOwner', 'probeLeaseExpires', 'probeLeaseEpisode', 'failingEnvironments', 'openedBy', 'openedReason')
    if opened_by ~= '' then redis.call('HSET', key, 'openedBy', opened_by) end
    if opened_reason ~= '' then redis.call('HSET', key, 'openedReason', opened_reason) end
    outcome = 2
  end
  set_item_expiry(key)
end

local result = {outcome}
for i, value in ipairs(current_fields()) do result[i + 1] = value end
return result
