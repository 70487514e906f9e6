-- wrk script of the race: rotates through the generated requests (RACE_REQUESTS: a Lua file returning
-- { { path, origin, ip, token }, ... }; token is absent in the --no-token variant, written by bench/gen.mjs), each thread from a different offset, and at the
-- end prints one JSON line: requests, duration, RPS, latency percentiles, socket errors, and the responses that
-- were not 200 (counted here, per thread, from every response).
local requests = dofile(os.getenv("RACE_REQUESTS"))
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Per-thread state (globals: done() reads not_ok and statuses through thread:get).
formatted = {}
i = 0
not_ok = 0
statuses = {}

function init(args)
  for k, r in ipairs(requests) do
    local headers = {
      ["Host"] = "api.example.com",
      ["Origin"] = r.origin,
      ["CF-Connecting-IP"] = r.ip,
    }
    if r.token then
      headers["Authorization"] = "Bearer " .. r.token
    end
    formatted[k] = wrk.format("GET", r.path, headers)
  end
  i = (id * 7919) % #formatted
end

function request()
  i = i % #formatted + 1
  return formatted[i]
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  local seen = {}
  for _, t in ipairs(threads) do
    bad = bad + t:get("not_ok")
    local s = t:get("statuses")
    for code, n in pairs(s) do
      seen[#seen + 1] = string.format('"%d":%d', code, n)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'RACE_RESULT {"requests":%d,"duration_us":%d,"rps":%.2f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,' ..
    '"mean_ms":%.3f,"max_ms":%.3f,"non_200":%d,"statuses":{%s},' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"wrk_status_errors":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, latency.max / 1000, bad, table.concat(seen, ","),
    e.connect, e.read, e.write, e.timeout, e.status))
end
