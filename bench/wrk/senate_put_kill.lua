-- senate_put_kill.lua: senate_put.lua plus what the kill-the-leader cell needs.
-- Args: keys, value size, process index, mark (CLOCK_MONOTONIC us at which the
-- harness kills the leader; the same clock as Python's time.monotonic on Linux).
--
-- Besides common.lua's BENCH and HIST lines, done() prints
--   MARK first_ok_us=T ok_after=N bad_after=M
-- where T is the earliest completion time (CLOCK_MONOTONIC us, 0 if none) of a 200
-- answer to a request SENT at or after the mark, and N/M count the ok/other answers
-- to such requests. Requests sent before the mark are left out on purpose: one
-- already committed by the old leader may be answered after the kill without the
-- cluster having recovered.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(here .. "common.lua")

local value = C.value(256)
function C.prepare(args)
   value = C.value(tonumber(args[2]) or 256)
end

C.install(function(i)
   return wrk.format("PUT", "/v1/kv/" .. C.key(i), nil, value)
end, function(status, body)
   return status == 200
end)

local base_setup, base_init, base_request, base_response, base_done =
   setup, init, request, response, done
local mark_threads = {}

function setup(thread)
   base_setup(thread)
   table.insert(mark_threads, thread)
end

function init(args)
   base_init(args)
   mark = tonumber(args[4]) or 0
   first_ok = 0
   ok_after = 0
   bad_after = 0
   sent_at = nil
end

function request()
   sent_at = C.now_us()
   return base_request()
end

function response(status, headers, body)
   if sent_at ~= nil and sent_at >= mark then
      if status == 200 then
         local now = C.now_us()
         ok_after = ok_after + 1
         if first_ok == 0 or now < first_ok then first_ok = now end
      else
         bad_after = bad_after + 1
      end
   end
   sent_at = nil
   base_response(status, headers, body)
end

function done(summary, latency, requests)
   base_done(summary, latency, requests)
   local first, oks, bads = 0, 0, 0
   for _, t in ipairs(mark_threads) do
      local f = t:get("first_ok")
      if f > 0 and (first == 0 or f < first) then first = f end
      oks = oks + t:get("ok_after")
      bads = bads + t:get("bad_after")
   end
   io.write(string.format("MARK first_ok_us=%d ok_after=%d bad_after=%d\n",
      math.floor(first), oks, bads))
end
