-- wrk script: cache-hit GETs of the contacts whose ids are in IDS (comma-separated), with a
-- caller key as the bearer token.
local ids = {}
for id in string.gmatch(os.getenv("IDS") or "", "[^,]+") do ids[#ids + 1] = id end
local key = os.getenv("KEY") or "none"
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", "/crm/v3/objects/contacts/" .. ids[(counter % #ids) + 1] .. "?properties=email,firstname",
    { ["Authorization"] = "Bearer " .. key })
end

local non200 = 0
response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("wrk: requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
