-- wrk script: single-object GETs spread over the seeded contacts (ids FIRST .. FIRST+COUNT-1).
local first = tonumber(os.getenv("FIRST_ID") or "1201")
local count = tonumber(os.getenv("ID_COUNT") or "1000")
local token = os.getenv("SIM_TOKEN") or "pat-sim-token"
local counter = 0

request = function()
  counter = counter + 1
  local id = first + (counter % count)
  return wrk.format("GET", "/crm/v3/objects/contacts/" .. id, { ["Authorization"] = "Bearer " .. token })
end

local non200 = 0
response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("wrk: requests=%d duration_s=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
