-- senate_put.lua: PUT /v1/kv/{key} with a fixed value; random keys from the key
-- space. Raw latency and output: see common.lua. Args: keys, value size, process.
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
