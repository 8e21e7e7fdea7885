-- wrk script for the HTTP side of the benchmark. wrk runs as many threads as pgbench does (-t2 like
-- -j2), each with several connections, so a connection cannot own a chat the way a pgbench client
-- does. Shape "a" keeps one writer per chat all the same: thread i owns chats
-- <prefix><i*k> .. <prefix><i*k+k-1> (k = its connections), a request takes a chat that has no
-- request in flight, and the response (which names its chat_id) hands the chat back. In shape "b"
-- every request writes to chat <prefix>. Every request carries a fresh message id (or run id).
-- Arguments: operation (append | mark-read | log-step | log-step-usage | get), token, chat prefix, shape (a | b),
-- run tag, connections per thread. "get" sends GET to the URL as given (its query string included).
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  operation, token, chat_prefix, shape, tag = args[1], args[2], args[3], args[4], args[5]
  per_thread = tonumber(args[6])
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
  counter = 0
  -- Requests that found no free chat and so shared one with a request in flight; reported, should be 0.
  shared = 0
  free = {}
  for i = per_thread - 1, 0, -1 do table.insert(free, chat_prefix .. (tid * per_thread + i)) end
  -- wrk builds one request on thread 0 before the run to check the script, and never sends it.
  unsent = tid == 0 and 1 or 0
end

local function next_chat()
  if shape ~= "a" then return chat_prefix end
  if unsent > 0 then
    unsent = unsent - 1
    return chat_prefix .. (tid * per_thread)
  end
  local chat = table.remove(free)
  if chat then return chat end
  shared = shared + 1
  return chat_prefix .. (tid * per_thread + counter % per_thread)
end

-- log-step-usage (npm run bench:usage): the step also carries the AI SDK usage, provider, model, agent
-- type, tool calls and cost, alternating main agent and subagent calls over two models.
local function step_usage()
  local agent = (counter % 2 == 0) and "subagent" or "main"
  local model = (counter % 3 == 0) and "openai/gpt-5-mini" or "anthropic/claude-sonnet-4.5"
  return ',"usage":{"inputTokens":12000,"inputTokenDetails":{"noCacheTokens":2000,"cacheReadTokens":9500,' ..
    '"cacheWriteTokens":500},"outputTokens":420,"outputTokenDetails":{"textTokens":300,"reasoningTokens":120},' ..
    '"totalTokens":12420},"provider":"gateway","model_id":"' .. model .. '","agent_type":"' .. agent ..
    '","tool_call_count":1,"cost_micros":14130'
end

function request()
  if operation == "get" then return wrk.format("GET") end
  counter = counter + 1
  local chat = next_chat()
  local id = tag .. "-" .. tid .. "-" .. counter
  local body
  if operation == "append" then
    body = '{"chat_id":"' .. chat .. '","message":{"id":"' .. id ..
      '","role":"user","parts":[{"type":"text","text":"benchmark message"}]}}'
  elseif operation == "mark-read" then
    body = '{"chat_id":"' .. chat .. '"}'
  else
    body = '{"run":{"id":"' .. id .. '","chat_id":"' .. chat .. '","model_id":"bench","started_at":"2026-01-01T00:00:00Z"},' ..
      '"steps":[{"step_number":1,"started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01.5Z","finish_reason":"stop"' ..
      (operation == "log-step-usage" and step_usage() or "") .. '}],' ..
      '"finish":{"status":"completed","finished_at":"2026-01-01T00:00:01.5Z"}}'
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if shape ~= "a" then return end
  local chat = string.match(body, '"chat_id":%s*"([^"]+)"')
  if chat then table.insert(free, chat) end
end

function done(summary, latency, requests)
  local e = summary.errors
  local shared_total = 0
  for _, thread in ipairs(threads) do shared_total = shared_total + thread:get("shared") end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"shared":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), shared_total))
end
