-- Prepended to every script that writes a circuit hash, and called once it wrote.
-- ARGV[#ARGV]: how long the key is kept (milliseconds) after the latest of the write (stateTimestamp), the break
-- (nextAttempt) and the probe lease the hash holds, or '0' to leave the key's expiry as it is.
-- An isolated circuit (OPEN with nextAttempt at or past CircuitSnapshot.IsolatedUntilUnixMs) never expires, whatever the
-- option, so that a process without it (an operator's tool) never leaves an isolation to expire; nor does a key whose
-- expiry would fall past that time.
local isolated_until = 253402300799999
local function set_item_expiry(key)
  local function number(field)
    return tonumber(redis.call('HGET', key, field) or '') or 0
  end
  local next_attempt = number('nextAttempt')
  if redis.call('HGET', key, 'circuitState') == 'OPEN' and next_attempt >= isolated_until then
    redis.call('PERSIST', key)
    return
  end
  local keep_for = tonumber(ARGV[#ARGV])
  if keep_for == 0 then
    return
  end
  local expires = math.max(number('stateTimestamp'), next_attempt, number('probeLeaseExpires')) + keep_for
  if expires < isolated_until then
    redis.call('PEXPIREAT', key, string.format('%.0f', expires))
  else
    redis.call('PERSIST', key)
  end
end
