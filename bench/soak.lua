-- wrk: the soak's mixed load on the items API. Per request, at random:
--   40 % GET /api/items?limit=10, 20 % POST /api/items, 20 % GET /api/items/{id} of an item
--   this thread created, 20 % DELETE /api/items/{id} of one (so the table stays about the same
--   size). Without a created id yet, GET-by-id and DELETE fall back to a POST.
-- Ids come from the POST answers (`"item":{"id":N`); each wrk thread keeps its own queue,
-- deletes the oldest and reads from the newer half, so a read rarely meets an item being
-- deleted. At the end it prints the answers by status.
local created = {}
local head, tail = 1, 0
local post_body = '{"name":"soak-item","description":"soak","value":"1"}'
local json = { ["Content-Type"] = "application/json" }

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  math.randomseed(os.time() * 100 + id)
  s200, s201, s204, s404, s503, sother = 0, 0, 0, 0, 0, 0
end

local function post()
  return wrk.format("POST", "/api/items", json, post_body)
end

function request()
  local r = math.random(100)
  if r <= 40 then
    return wrk.format("GET", "/api/items?limit=10")
  elseif r <= 60 or tail < head then
    return post()
  elseif r <= 80 then
    local from = head + math.floor((tail - head) / 2)
    return wrk.format("GET", "/api/items/" .. created[math.random(from, tail)])
  else
    local id = created[head]
    created[head] = nil
    head = head + 1
    return wrk.format("DELETE", "/api/items/" .. id)
  end
end

function response(status, headers, body)
  if status == 201 then
    s201 = s201 + 1
    local id = body:match('"item":{"id":(%d+)')
    if id then
      tail = tail + 1
      created[tail] = id
    end
  elseif status == 200 then s200 = s200 + 1
  elseif status == 204 then s204 = s204 + 1
  elseif status == 404 then s404 = s404 + 1
  elseif status == 503 then s503 = s503 + 1
  else sother = sother + 1
  end
end

function done(summary, latency, requests)
  local totals = { 200, 201, 204, 404, 503, "other" }
  local sums = { 0, 0, 0, 0, 0, 0 }
  for _, thread in ipairs(threads) do
    for i, status in ipairs(totals) do
      sums[i] = sums[i] + (thread:get("s" .. status) or 0)
    end
  end
  io.write("statuses:")
  for i, status in ipairs(totals) do
    io.write(" ", status, "=", sums[i])
  end
  io.write("\n")
end
