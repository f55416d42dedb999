-- wrk script: durable POST /v1/cases/{id}/events spread over the case ids
-- listed (one per line) in the file named by CASES_FILE, round robin, each
-- thread starting at a different case. TOKEN, when set, is sent as a
-- bearer token.
local ids = {}
for line in io.lines(os.getenv("CASES_FILE")) do
  if line ~= "" then ids[#ids + 1] = line end
end
local token = os.getenv("TOKEN") or ""

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
local body = '{"type":"IntelligenceLogged","data":{"summary":"Lorry with concealed compartment seen at Coquelles","grading":"2B1"}}'

-- Threads start half the list apart (with 2 threads) so that they do not
-- chase each other through the same cases.
local thread_seq = 0
function setup(thread)
  thread:set("seq", thread_seq)
  thread_seq = thread_seq + 1
end

function init(args)
  offset = (seq or 0) * math.floor(#ids / 2)
end

local n = 0
function request()
  n = n + 1
  local id = ids[((n + (offset or 0)) % #ids) + 1]
  return wrk.format(nil, "/v1/cases/" .. id .. "/events", nil, body)
end
