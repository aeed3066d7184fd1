-- GETs of a path with a random number in it, for wrk (`wrk -s random_get.lua URL -- ARGS`).
-- ARGS: template (with {n} where the number goes), low, high, step, [bearer token].
-- n = low + step * k for a uniformly random k, so n runs over low, low + step, ... <= high.
-- done() prints one line, "WRK_JSON {...}", that bench/wrk.py reads.

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  template = args[1]
  low, high, step = tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  slots = math.floor((high - low) / step) + 1
  headers = {}
  if args[5] ~= nil and args[5] ~= "" then
    headers["Authorization"] = "Bearer " .. args[5]
  end
  math.randomseed(os.time() * 1000 + (seed or 0))
end

function request()
  local n = low + step * (math.random(slots) - 1)
  local path = string.gsub(template, "{n}", tostring(n))
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout
  ))
end
