-- wrk script for `make bench`: POST /v1/lookups, each request with a fresh single-use token.
-- Thread i takes tokens i, i+n, i+2n, ... so no token is used twice.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
  stride = tonumber(os.getenv("BENCH_THREADS"))
  counter = thread_index + 1
  headers = {
    ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY"),
    ["Passby-Assertion"] = os.getenv("BENCH_ASSERTION"),
    ["Content-Type"] = "application/json",
  }
  -- BENCH_ACCEPT picks the rendering (image/png, text/plain); SVG without it.
  if os.getenv("BENCH_ACCEPT") then headers["Accept"] = os.getenv("BENCH_ACCEPT") end
  subject = os.getenv("BENCH_SUBJECT")
end

function request()
  local token = tokens[counter] or "0000-0000-0000-0000"
  counter = counter + stride
  return wrk.format("POST", "/v1/lookups", headers, '{"id_number":"' .. subject .. '","consent_token":"' .. token .. '"}')
end
