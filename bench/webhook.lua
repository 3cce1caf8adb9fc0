-- wrk script: signed Shopify orders/create deliveries for bench/ingest.py.
-- The body and its HMAC are fixed (Shopify signs the body only); every request carries a new
-- X-Shopify-Webhook-Id, except a DUP_SHARE fraction that repeat an id this thread already sent
-- (a retried delivery). Configured by environment: BODY_FILE, HMAC, SHOP, RUN_ID, DUP_SHARE.
--
-- One request in RECONNECT_EVERY asks the server to close its connection afterwards (wrk then
-- opens a new one), so each connection is re-opened every ~RECONNECT_EVERY requests. Without
-- it, wrk's 16 keep-alive connections stay for the whole round with whichever gunicorn worker
-- accepted them: all 16 on one worker (one GIL) or split 12/4, 9/7..., which made bare Flask's
-- rounds ~3,300 or ~8,000 requests/s at random. Re-opened connections keep spreading over the
-- workers, as a stream of deliveries from many senders would.

local file = io.open(os.getenv("BODY_FILE"), "rb")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Shopify-Topic"] = "orders/create"
wrk.headers["X-Shopify-Hmac-Sha256"] = os.getenv("HMAC")
wrk.headers["X-Shopify-Shop-Domain"] = os.getenv("SHOP")
wrk.headers["X-Shopify-API-Version"] = "2026-07"

local run = os.getenv("RUN_ID")
local reconnect_every = tonumber(os.getenv("RECONNECT_EVERY") or "0")
local dup_share = tonumber(os.getenv("DUP_SHARE") or "0")
local threads = {}
local sent = 0
local calls = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

function init(args)
  math.randomseed(os.time() * 100 + thread_no)
end

function request()
  local n
  if sent > 0 and math.random() < dup_share then
    n = math.random(sent)
  else
    sent = sent + 1
    n = sent
  end
  wrk.headers["X-Shopify-Webhook-Id"] = string.format("%s-%d-%d", run, thread_no, n)
  calls = calls + 1
  if reconnect_every > 0 and calls % reconnect_every == 0 then
    wrk.headers["Connection"] = "close"
  else
    wrk.headers["Connection"] = nil
  end
  return wrk.format()
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
