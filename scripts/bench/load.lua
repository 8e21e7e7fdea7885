-- wrk script for the HTTP side of the benchmark. Each wrk thread owns one connection (run with
-- -t N -c N), so in shape "a" thread i is the one writer of chat <prefix><i>; in shape "b" every
-- thread writes to chat <prefix>. Every request carries a fresh message id (or run id).
-- Arguments: operation (append | mark-read | log-step), token, chat prefix, shape (a | b), run tag.
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  operation, token, chat_prefix, shape, tag = args[1], args[2], args[3], args[4], args[5]
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
  counter = 0
end

function request()
  counter = counter + 1
  local chat = chat_prefix
  if shape == "a" then chat = chat_prefix .. tid end
  local id = tag .. "-" .. tid .. "-" .. counter
  local body
  if operation == "append" then
    body = '{"chat_id":"' .. chat .. '","message":{"id":"' .. id ..
      '","role":"user","parts":[{"type":"text","text":"benchmark message"}]}}'
  elseif operation == "mark-read" then
    body = '{"chat_id":"' .. chat .. '"}'
  else
    body = '{"run":{"id":"' .. id .. '","chat_id":"' .. chat .. '","model_id":"bench","started_at":"2026-01-01T00:00:00Z"},' ..
      '"steps":[{"step_number":1,"started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01.5Z","finish_reason":"stop"}],' ..
      '"finish":{"status":"completed","finished_at":"2026-01-01T00:00:01.5Z"}}'
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
