-- common.lua: what the four wrk scripts share (loaded by each with dofile).
--
-- Raw latency, measured here rather than taken from wrk: wrk 4.1 runs
-- stats_correct() (its coordinated-omission correction: synthetic samples for
-- every response slower than twice the mean interval) on its latency histogram
-- BEFORE it calls done(), so both the printed percentiles and done()'s `latency`
-- object are corrected. The harness therefore runs one connection per wrk thread
-- (-t N -c N): request() and response() then strictly alternate in a thread's Lua
-- state, and response() - request() on CLOCK_MONOTONIC is that request's raw
-- latency. Samples go into a histogram with <=1% wide buckets (integer us below
-- 1 ms, 10 us below 10 ms, 100 us below 100 ms, 1 ms above), one per thread;
-- done() merges the threads' histograms and prints them on one "HIST" line, so
-- the harness can merge the histograms of several wrk processes exactly.
--
-- Script arguments (after `--`): key-space size, value size, process index.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } senate_bench_timespec;
int clock_gettime(int clk_id, senate_bench_timespec *tp);
]]

local CLOCK_MONOTONIC = 1
local ts = ffi.new("senate_bench_timespec")

local M = {}

function M.now_us()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
   return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

function M.bucket(us)
   if us < 1000 then return math.floor(us) end
   if us < 10000 then return math.floor(us / 10) * 10 end
   if us < 100000 then return math.floor(us / 100) * 100 end
   return math.floor(us / 1000) * 1000
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(s)
   local out = {}
   for i = 1, #s, 3 do
      local a, b, c = s:byte(i, i + 2)
      local n = a * 65536 + (b or 0) * 256 + (c or 0)
      local c1 = math.floor(n / 262144) % 64
      local c2 = math.floor(n / 4096) % 64
      local c3 = math.floor(n / 64) % 64
      local c4 = n % 64
      out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1)
         .. (b and B64:sub(c3 + 1, c3 + 1) or "=") .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
   end
   return table.concat(out)
end

function M.key(i)
   return string.format("bench-%06d", i)
end

-- A printable value of `size` bytes, the same in every thread and process.
function M.value(size)
   local chars = {}
   for i = 1, size do chars[i] = string.char(33 + (i * 7919) % 94) end
   return table.concat(chars)
end

-- Installs setup/init/request/response/done as globals. `make_request(i)` builds
-- the request for key index i; `is_ok(status, body)` judges an answer.
function M.install(make_request, is_ok)
   local threads = {}
   local next_id = 0

   function setup(thread)
      next_id = next_id + 1
      thread:set("thread_id", next_id)
      table.insert(threads, thread)
   end

   local nkeys = 1000
   local t0 = nil

   function init(args)
      nkeys = tonumber(args[1]) or 1000
      local proc = tonumber(args[3]) or 0
      math.randomseed(proc * 100003 + (thread_id or 0) * 7 + 1)
      hist = {}
      ok = 0
      bad = 0
      M.prepare(args)
   end

   function request()
      local i = math.random(0, nkeys - 1)
      t0 = M.now_us()
      return make_request(i)
   end

   function response(status, headers, body)
      if t0 == nil then return end
      local us = M.now_us() - t0
      t0 = nil
      if is_ok(status, body) then
         local b = M.bucket(us)
         hist[b] = (hist[b] or 0) + 1
         ok = ok + 1
      else
         bad = bad + 1
      end
   end

   function done(summary, latency, requests)
      local merged, total_ok, total_bad = {}, 0, 0
      for _, t in ipairs(threads) do
         for b, n in pairs(t:get("hist")) do merged[b] = (merged[b] or 0) + n end
         total_ok = total_ok + t:get("ok")
         total_bad = total_bad + t:get("bad")
      end
      local e = summary.errors
      io.write(string.format(
         "BENCH ok=%d bad=%d duration_us=%d connect=%d read=%d write=%d timeout=%d "
            .. "wrk_p50_us=%d wrk_p99_us=%d\n",
         total_ok, total_bad, summary.duration, e.connect, e.read, e.write, e.timeout,
         latency:percentile(50), latency:percentile(99)))
      local parts = {}
      for b, n in pairs(merged) do parts[#parts + 1] = b .. ":" .. n end
      io.write("HIST " .. table.concat(parts, " ") .. "\n")
   end
end

-- Per-state preparation hook; scripts replace it to precompute bodies.
function M.prepare(args) end

return M
