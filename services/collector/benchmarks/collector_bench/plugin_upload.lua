-- wrk script: every request a unique ~1 KB upload in the public ShareLM plugin's format (POST /api/endpoint),
-- with an e-mail address and a phone number to redact; a 2xx answer's conversation_id is recorded, and
-- done() prints one JSON line: requests, 2xx, non-2xx, socket errors, throughput, latency percentiles, and
-- writes the acknowledged ids to a file (so that the harness can check each one was stored).
--
--   wrk -t2 -c64 -d12s -s plugin_upload.lua http://127.0.0.1:PORT -- RUN_TAG IDS_FILE
--
-- RUN_TAG (8 hex digits, different for every wrk run) keeps ids unique across runs; IDS_FILE may be "-" (none).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  run_tag = args[1] or "00000000"
  ids_file = args[2] or "-"
  acked = {}
  n_acked = 0
  statuses = {}
  wrk.method = "POST"
  wrk.path = "/api/endpoint"
  wrk.headers["Content-Type"] = "application/json"
end

local USER = {
  'Could you check my booking %d? Reach me at jane.doe%d@example.com or 415-555-%04d, thanks.',
  'Also, what is a good name for a cat that likes boxes? Ours has %d of them and wants more.',
  'And one that likes to sit in the sink, please; question number %d of today.',
}
local BOT = {
  'Sure. I cannot see bookings, but the confirmation e-mail you received lists reservation %d. ' ..
    'A cat that loves boxes could be called Parcel or Carton; both suit a curious, playful animal.',
  'A cat that loves boxes could be called Parcel or Carton. A cat that loves boxes could be called ' ..
    'Parcel or Carton. A cat that loves boxes could be called Parcel or Carton (%d).',
  'For a sink-loving cat: Splash, Drip, or Faucet. Any of them works for cat number %d.',
}

function request()
  counter = counter + 1
  local n = counter
  local cid = string.format("%s-%04x-4000-8000-%012x", run_tag, tid, n)
  local body = string.format(
    '{"conversation_id":"%s","bot_msgs":["%s","%s","%s"],"user_msgs":["%s","%s","%s"],' ..
    '"page_url":"https://chat.example.com/c/%d","user_id":"bench-user-%d-%d",' ..
    '"user_metadata":{"age":"30","gender":"","location":"Haifa"},"timestamp":"2026-12-01T12:00:00.000Z",' ..
    '"conversation_metadata":{"message_ratings":[0,1,-1],"rate":"thumbup"}}',
    cid, string.format(BOT[1], n), string.format(BOT[2], n), string.format(BOT[3], n),
    string.format(USER[1], n, tid, n % 10000), string.format(USER[2], n), string.format(USER[3], n),
    n, tid, n % 97)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 200 and status < 300 then
    local cid = string.match(body, '"conversation_id"%s*:%s*"([^"]+)"')
    if cid then
      n_acked = n_acked + 1
      acked[n_acked] = cid
    end
  end
end

function done(summary, latency, requests)
  local ok, non2xx, counts, by_status = 0, 0, {}, {}
  -- done() runs in the main Lua state, which init() never saw: the file name comes from a thread.
  local path = threads[1]:get("ids_file")
  local out = nil
  if path and path ~= "-" then out = assert(io.open(path, "w")) end
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
      if status >= 200 and status < 300 then ok = ok + n else non2xx = non2xx + n end
    end
    if out then
      local ids = thread:get("acked")
      for i = 1, thread:get("n_acked") do out:write(ids[i], "\n") end
    end
  end
  if out then out:close() end
  for status, n in pairs(counts) do by_status[#by_status + 1] = string.format('"%d":%d', status, n) end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"ok":%d,"non_2xx":%d,"statuses":{%s},"socket_errors":{"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d},"duration_s":%.6f,"throughput":%.3f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
    '"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f}\n',
    summary.requests, ok, non2xx, table.concat(by_status, ","), e.connect, e.read, e.write, e.timeout,
    seconds, ok / seconds, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
