-- wrk script for scripts/bench_intake.py: the same request loop for GET /healthz and the signed webhook,
-- so the two throughputs are comparable.
--
--   wrk -t1 -c8 -d10s -s scripts/bench_wrk.lua http://127.0.0.1:PORT -- FILE PATH THREADS
--
-- FILE is "-" for a plain GET of PATH, else a file of pre-signed webhook requests, one per line:
-- "<X-Twilio-Signature>\t<urlencoded form body>". Every request is formatted once in init(), so the hot loop
-- only hands wrk a ready string. Thread k of THREADS sends lines k, k+THREADS, ... so no MessageSid is sent
-- twice; if the file runs out the index wraps (duplicates) and done() reports how often that happened.
-- done() prints one line "BENCH_JSON {...}" with counts, errors and latency percentiles in microseconds.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  reqs, n, issued, wrapped = {}, 0, 0, 0
  local file, path = args[1] or "-", args[2] or "/healthz"
  stride = tonumber(args[3] or "1")
  idx = tid or 0
  if file == "-" then
    reqs[1] = wrk.format("GET", path)
    n, get_mode = 1, true
  else
    local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["User-Agent"] = "TwilioProxy/1.1"}
    for line in io.lines(file) do
      local tab = line:find("\t", 1, true)
      if tab then
        headers["X-Twilio-Signature"] = line:sub(1, tab - 1)
        n = n + 1
        reqs[n] = wrk.format("POST", path, headers, line:sub(tab + 1))
      end
    end
    get_mode = false
  end
end

function request()
  issued = issued + 1
  if get_mode then
    return reqs[1]
  end
  local i = idx
  idx = idx + stride
  if i >= n then
    wrapped = wrapped + 1
    i = i % n
  end
  return reqs[i + 1]
end

function done(summary, latency, requests)
  local w, iss = 0, 0
  for _, t in ipairs(threads) do
    w = w + (t:get("wrapped") or 0)
    iss = iss + (t:get("issued") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},' ..
    '"wrapped":%d,"issued":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), w, iss))
end
