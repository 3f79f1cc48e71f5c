-- wrk script for scripts/bench-rpc: POSTs one JSON-RPC request per call and checks every reply.
--
--   BENCH_BODY=<json> wrk ... -s scripts/rpc/bench.lua URL                  same body every time
--   BENCH_BODY=<json with %ADDR%> BENCH_ADDR_FILE=<file> wrk ... URL        %ADDR% = next line of the file
--
-- The address file holds one base32 address per line; each wrk thread walks its own slice of it, so no two
-- requests ask for the same address until the file is exhausted (then it wraps, and done() says so).
-- A reply counts as ok only if it is HTTP 200 with a hex "result" (all benchmarked methods return a hex
-- quantity): an error reply is fast and would fake a good number. done() prints one machine-readable line:
--   BENCH requests=N duration_us=N p50_us=N p99_us=N ok=N rpc_errors=N non2xx=N socket_errors=N wrapped=0|1 sample=<first bad body>

local body = os.getenv("BENCH_BODY") or error("BENCH_BODY is not set")
local addr_file = os.getenv("BENCH_ADDR_FILE")

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok, rpc_errors, non2xx, wrapped, sample = 0, 0, 0, 0, ""
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if addr_file then
    addrs = {}
    for line in io.lines(addr_file) do
      if #line > 0 then addrs[#addrs + 1] = line end
    end
    if #addrs == 0 then error("no addresses in " .. addr_file) end
    -- this thread's slice of the list: [first, last]
    local n = tonumber(os.getenv("BENCH_THREADS") or "1")
    local per = math.floor(#addrs / n)
    first = tid * per + 1
    last = (tid == n - 1) and #addrs or (tid + 1) * per
    next_i = first
  else
    wrk.body = body
  end
end

function request()
  if not addr_file then
    return wrk.format()
  end
  local a = addrs[next_i]
  next_i = next_i + 1
  if next_i > last then
    next_i = first
    wrapped = 1
  end
  return wrk.format(nil, nil, nil, (body:gsub("%%ADDR%%", a)))
end

function response(status, headers, resp)
  if status ~= 200 then
    non2xx = non2xx + 1
    if sample == "" then sample = "HTTP " .. status .. " " .. resp:sub(1, 200) end
  elseif resp:find('"result"%s*:%s*"0x') then
    ok = ok + 1
  else
    rpc_errors = rpc_errors + 1
    if sample == "" then sample = resp:sub(1, 200) end
  end
end

function done(summary, latency, requests)
  local t_ok, t_err, t_non2xx, t_wrapped, t_sample = 0, 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    t_ok = t_ok + thread:get("ok")
    t_err = t_err + thread:get("rpc_errors")
    t_non2xx = t_non2xx + thread:get("non2xx")
    t_wrapped = math.max(t_wrapped, thread:get("wrapped"))
    if t_sample == "" then t_sample = thread:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d ok=%d rpc_errors=%d non2xx=%d socket_errors=%d wrapped=%d sample=%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), t_ok, t_err, t_non2xx,
    e.connect + e.read + e.write + e.timeout, t_wrapped, (t_sample:gsub("[\r\n]", " "))))
end
