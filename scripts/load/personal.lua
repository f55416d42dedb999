-- wrk script: durable POST /v1/cases/{id}/events carrying personal data,
-- spread over the case ids listed in CASES_FILE (as post.lua). BODY says
-- which: "suspect" (SuspectIdentified with name, date of birth and
-- nationality, a fresh person_id per request: each makes a new person
-- key), "intel" (IntelligenceLogged: the summary sealed under the case's
-- key) or "mixed" (alternating). Used to A/B the cost of sealing:
--
--   POST_SCRIPT=scripts/load/personal.lua BODY=suspect scripts/load/ab.sh OLD NEW
local ids = {}
for line in io.lines(os.getenv("CASES_FILE")) do
  if line ~= "" then ids[#ids + 1] = line end
end
local token = os.getenv("TOKEN") or ""
local kind = os.getenv("BODY") or "mixed"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end

local intel = '{"type":"IntelligenceLogged","data":{"summary":"Informant reports the driver of a white curtain-sided lorry collects passengers near the Calais ring road","grading":"2B1"}}'

local thread_seq = 0
function setup(thread)
  thread:set("seq", thread_seq)
  thread_seq = thread_seq + 1
end

function init(args)
  offset = (seq or 0) * math.floor(#ids / 2)
  math.randomseed(os.time() * 1000 + (seq or 0))
end

-- uuid4 makes a random version-4 UUID (a fresh person each request).
local function uuid4()
  local t = {}
  for i = 1, 16 do t[i] = math.random(0, 255) end
  t[7] = (t[7] % 16) + 64   -- version 4
  t[9] = (t[9] % 64) + 128  -- RFC 4122 variant
  return string.format("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
    t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12], t[13], t[14], t[15], t[16])
end

local function suspect()
  return '{"type":"SuspectIdentified","data":{"person_id":"' .. uuid4() ..
    '","name":"Ionut Vasilescu-Marin","date_of_birth":"1981-07-14","nationality":"Romanian"}}'
end

local n = 0
function request()
  n = n + 1
  local id = ids[((n + (offset or 0)) % #ids) + 1]
  local body
  if kind == "suspect" or (kind == "mixed" and n % 2 == 0) then
    body = suspect()
  else
    body = intel
  end
  return wrk.format(nil, "/v1/cases/" .. id .. "/events", nil, body)
end
