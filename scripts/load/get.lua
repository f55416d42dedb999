-- wrk script: GET the path in WRK_PATH with the bearer token in TOKEN.
local token = os.getenv("TOKEN") or ""
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
local path = os.getenv("WRK_PATH") or "/v1/reports/summary"
function request()
  return wrk.format("GET", path)
end
