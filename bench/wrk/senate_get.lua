-- senate_get.lua: linearizable GET /v1/kv/{key} (ReadIndex on the leader; the
-- explicit ?consistency=linearizable is the API's default). Random keys from a
-- prefilled key space, so a 404 is an error. Output: see common.lua.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(here .. "common.lua")

C.install(function(i)
   return wrk.format("GET", "/v1/kv/" .. C.key(i) .. "?consistency=linearizable")
end, function(status, body)
   return status == 200
end)
