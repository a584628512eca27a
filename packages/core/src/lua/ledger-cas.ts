/**
 * ledger-cas — apply a batch of ledger writes only if nothing they were computed from changed.
 *
 * The provider state machines are pure TypeScript: the caller reads the records, decides, and
 * hands the writes to this script together with what it read. Any number of worker processes
 * can do this at once; the loser of a race gets 0 and decides again on fresh data.
 *
 * KEYS[1..n]  every key the batch reads or writes (all under the ledger prefix, so one hash
 *             slot when the prefix is hash-tagged for Redis Cluster)
 * ARGV[1]     JSON {
 *               "versions": [[i, "v"], …]   hash KEYS[i] must have field v == "v" ("0": key absent)
 *               "strings":  [[i, "s"], …]   string KEYS[i] must equal "s" ("": key absent)
 *               "claims":   [[i, "s"], …]   string KEYS[i] must be absent or equal "s"; it is then set
 *               "ops":      [["hset", i, {field: value, …}]   also increments field v by 1
 *                            ["sadd" | "srem", i, member] | ["set", i, value] | ["zadd", i, score, member]
 *                            ["touch", i]                     increments field v of hash KEYS[i] by 1 only
 *                            ["delifeq", i, value]            delete string KEYS[i] if it equals value
 *                            ["del", i] | ["hdel", i, field] | ["zrem", i, member]   (compaction)]
 *             }
 * Returns      1  applied, every op written
 *              0  a version or string differs from what the caller read: nothing written
 *             -1  a claim is held by another value: nothing written
 */
export const LEDGER_CAS_LUA = `
local spec = cjson.decode(ARGV[1])
for _, c in ipairs(spec.versions) do
  local v = redis.call('HGET', KEYS[c[1]], 'v') or '0'
  if v ~= c[2] then return 0 end
end
for _, c in ipairs(spec.strings) do
  local s = redis.call('GET', KEYS[c[1]]) or ''
  if s ~= c[2] then return 0 end
end
for _, c in ipairs(spec.claims) do
  local s = redis.call('GET', KEYS[c[1]])
  if s and s ~= c[2] then return -1 end
end
for _, c in ipairs(spec.claims) do
  redis.call('SET', KEYS[c[1]], c[2])
end
for _, op in ipairs(spec.ops) do
  local kind, key = op[1], KEYS[op[2]]
  if kind == 'hset' then
    local args = {}
    for f, val in pairs(op[3]) do
      args[#args + 1] = f
      args[#args + 1] = val
    end
    -- one HSET for every field: a call per field was a third of the script's commands
    if #args > 0 then redis.call('HSET', key, unpack(args)) end
    redis.call('HINCRBY', key, 'v', 1)
  elseif kind == 'sadd' then
    redis.call('SADD', key, op[3])
  elseif kind == 'srem' then
    redis.call('SREM', key, op[3])
  elseif kind == 'touch' then
    redis.call('HINCRBY', key, 'v', 1)
  elseif kind == 'set' then
    redis.call('SET', key, op[3])
  elseif kind == 'zadd' then
    redis.call('ZADD', key, op[3], op[4])
  elseif kind == 'del' then
    redis.call('DEL', key)
  elseif kind == 'hdel' then
    redis.call('HDEL', key, op[3])
  elseif kind == 'zrem' then
    redis.call('ZREM', key, op[3])
  elseif kind == 'delifeq' then
    if redis.call('GET', key) == op[3] then redis.call('DEL', key) end
  else
    return redis.error_reply('ledger-cas: unknown op ' .. tostring(kind))
  end
end
return 1
`;
