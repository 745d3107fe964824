-- wrk script for the local stack: POSTs one Open Inference Protocol request over and over.
--
--   wrk -s deploy/local/wrk-infer.lua http://127.0.0.1:PORT/v2/models/binary/infer -- BODY.json
--
-- BODY.json is the request body (scripts/stack writes $STACK_DIR/request.json). At the end it
-- prints one line per HTTP status and per "model_version" seen, which the tests and the rollout
-- demo read:
--   status 200 12345
--   model_version 1 12000
--   model_version 2 345
-- The benchmark uses this same script for both targets, so the small cost of counting is equal.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1]
   if path == nil then
      error("wrk-infer.lua: pass the request body file after --")
   end
   local f = io.open(path, "rb")
   if f == nil then
      error("wrk-infer.lua: cannot open request body " .. path)
   end
   wrk.method = "POST"
   wrk.body = f:read("*a")
   f:close()
   wrk.headers["Content-Type"] = "application/json"
   statuses = {}
   versions = {}
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   local v = body and string.match(body, '"model_version"%s*:%s*"?([%w%.%-_]+)')
   if v then
      versions[v] = (versions[v] or 0) + 1
   end
end

function done(summary, latency, requests)
   local st, mv = {}, {}
   for _, t in ipairs(threads) do
      -- Tables cannot cross wrk's per-thread Lua states; read them back one key at a time.
      local s, v = t:get("statuses"), t:get("versions")
      for k, n in pairs(s or {}) do st[k] = (st[k] or 0) + n end
      for k, n in pairs(v or {}) do mv[k] = (mv[k] or 0) + n end
   end
   for k, n in pairs(st) do io.write(string.format("status %s %d\n", tostring(k), n)) end
   for k, n in pairs(mv) do io.write(string.format("model_version %s %d\n", k, n)) end
end
