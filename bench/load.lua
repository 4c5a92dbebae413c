-- wrk script: one request shape per scenario, ids taken round-robin from a file.
-- BENCH_SCENARIO: cancel | describe | invalid | iot_cancel | vault_cancel
-- BENCH_IDS: file of ids, one per line; BENCH_AUTH: Vault session id (vault_cancel only)
local scenario = os.getenv("BENCH_SCENARIO")
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local auth = os.getenv("BENCH_AUTH") or ""
-- An unchecked SigV4-shaped header, as boto3 sends: moto_server routes by its credential scope.
local function aws(service)
  return {["Content-Type"] = "application/json",
          ["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/" .. service ..
            "/aws4_request, SignedHeaders=host;x-amz-date, Signature=" .. string.rep("0", 64),
          ["X-Amz-Date"] = "20261124T000000Z"}
end
local counter = 0

local function next_id()
  counter = counter + 1
  return ids[(counter % #ids) + 1]
end

request = function()
  if scenario == "cancel" then
    return wrk.format("POST", "/v1/canceljob", aws("batch"),
      '{"jobId":"' .. next_id() .. '","reason":"bench"}')
  elseif scenario == "describe" then
    local picked = {}
    for _ = 1, 10 do picked[#picked + 1] = '"' .. next_id() .. '"' end
    return wrk.format("POST", "/v1/describejobs", aws("batch"),
      '{"jobs":[' .. table.concat(picked, ",") .. ']}')
  elseif scenario == "invalid" then
    return wrk.format("POST", "/v1/canceljob", aws("batch"), '{"jobId":"' .. next_id() .. '"}')
  elseif scenario == "iot_cancel" then
    local thing, job = next_id():match("([^/]+)/([^/]+)")
    return wrk.format("PUT", "/things/" .. thing .. "/jobs/" .. job .. "/cancel", aws("iot"), "{}")
  elseif scenario == "vault_cancel" then
    local picked = {}
    for _ = 1, 100 do picked[#picked + 1] = '{"job_id":' .. next_id() .. '}' end
    return wrk.format("POST", "/api/v25.3/services/jobs/actions/cancel",
      {["Content-Type"] = "application/json", ["Authorization"] = auth},
      "[" .. table.concat(picked, ",") .. "]")
  end
end

done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
