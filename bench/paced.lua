-- wrk: a fixed request rate instead of as fast as the server answers, so that two servers (or
-- one with and without a duty) can be compared doing the same work: CPU per request at the
-- same rate. Usage: wrk -t2 -c64 ... -s bench/paced.lua URL -- RATE_PER_THREAD
-- Each thread gives its requests slots RATE_PER_THREAD a second apart and every connection
-- waits for the next free slot before it sends (wrk asks delay() before each request); when
-- the server falls behind, slots are late and requests go out at once, as without pacing.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local interval, start, slots

function init(args)
  local rate = tonumber(args[1])
  if not rate or rate <= 0 then
    error("paced.lua needs the requests a second per thread: wrk ... -s bench/paced.lua URL -- RATE")
  end
  interval = 1000 / rate
  slots = 0
end

function delay()
  local now = now_ms()
  start = start or now
  slots = slots + 1
  local due = start + slots * interval
  if due > now then
    return math.floor(due - now)
  end
  return 0
end
