-- wrk script for `make bench`: POST /v1/verifications, cycling through display codes that are
-- valid for the whole run (one verification can be repeated; each is still recorded).
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(os.getenv("BENCH_CODES")) do bodies[#bodies + 1] = '{"code":"' .. line .. '"}' end
  counter = thread_index
  headers = {
    ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY"),
    ["Content-Type"] = "application/json",
  }
end

function request()
  counter = counter % #bodies + 1
  return wrk.format("POST", "/v1/verifications", headers, bodies[counter])
end
