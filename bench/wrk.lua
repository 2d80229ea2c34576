-- wrk script: fixed path, or a unique cache key per request, and a machine-readable summary.
-- usage: wrk -s bench/wrk.lua URL -- PATH [unique]
-- "unique" appends fp-y=0.1xxxxx: the variant key changes on every request (so every request is a
-- cold transform) while the work does not (a 400x300 cut of a 4:3 master ignores fp-y; a square one
-- only moves the window).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
  unique = args[2] == "unique"
end

function request()
  if unique then
    counter = counter + 1
    return wrk.format("GET", string.format("%s&fp-y=%.6f", path, 0.1 + id * 0.1 + counter * 0.000001))
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
