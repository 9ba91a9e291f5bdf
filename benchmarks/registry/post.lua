-- wrk script: POST the JSON body in BENCH_BODY, with BENCH_KEY as the bearer token when set.
-- With BENCH_DELAY_MS, each connection waits that long after a response before its next request
-- (a bounded, paced load instead of wrk's default of as fast as the server answers).
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or "{}"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if pause then
  function delay()
    return pause
  end
end
