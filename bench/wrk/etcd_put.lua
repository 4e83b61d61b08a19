-- etcd_put.lua: POST /v3/kv/put on etcd's JSON gateway (base64 key and value);
-- random keys from the key space. Output: see common.lua. Args as senate_put.lua.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(here .. "common.lua")

local value64 = C.base64(C.value(256))
local keys64 = {}
local headers = { ["Content-Type"] = "application/json" }

function C.prepare(args)
   value64 = C.base64(C.value(tonumber(args[2]) or 256))
   for i = 0, (tonumber(args[1]) or 1000) - 1 do keys64[i] = C.base64(C.key(i)) end
end

C.install(function(i)
   local body = '{"key":"' .. keys64[i] .. '","value":"' .. value64 .. '"}'
   return wrk.format("POST", "/v3/kv/put", headers, body)
end, function(status, body)
   return status == 200
end)
