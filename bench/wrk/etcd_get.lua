-- etcd_get.lua: POST /v3/kv/range with serializable=false (a linearizable read:
-- etcd's ReadIndex) on the JSON gateway. Random keys from a prefilled key space;
-- an answer without "kvs" (key missing) is an error. Output: see common.lua.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(here .. "common.lua")

local keys64 = {}
local headers = { ["Content-Type"] = "application/json" }

function C.prepare(args)
   for i = 0, (tonumber(args[1]) or 1000) - 1 do keys64[i] = C.base64(C.key(i)) end
end

C.install(function(i)
   local body = '{"key":"' .. keys64[i] .. '","serializable":false}'
   return wrk.format("POST", "/v3/kv/range", headers, body)
end, function(status, body)
   return status == 200 and body ~= nil and body:find('"kvs"', 1, true) ~= nil
end)
