-- wrk script: fixed path, or a unique cache key per request, and a machine-readable summary.
-- usage: wrk -s bench/wrk.lua URL -- PATH [unique RUN]
-- "unique" appends fp-x=<RUN/1e6>&fp-y=<0.1 + thread/10 + n/1e6>: the variant key differs for every
-- request of every run (so every request is a cold transform) while the work does not (a 400x300 cut
-- of a 4:3 master ignores the focal point; of a square one it only moves the window vertically).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
  unique = args[2] == "unique"
  run = tonumber(args[3] or "0")
  hits = 0
  if unique then
    -- count X-Cache-Status: HIT so the bench can prove cold rows were cold
    response = function(status, headers, body)
      if headers["X-Cache-Status"] == "HIT" or headers["x-cache-status"] == "HIT" then
        hits = hits + 1
      end
    end
  end
end

function request()
  if unique then
    counter = counter + 1
    return wrk.format("GET", string.format("%s&fp-x=%.6f&fp-y=%.6f", path, run * 0.000001, 0.1 + id * 0.1 + counter * 0.000001))
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  local hit_total = 0
  for _, thread in ipairs(threads) do
    hit_total = hit_total + (thread:get("hits") or 0)
  end
  io.write(string.format("RESULT %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout, hit_total))
end
