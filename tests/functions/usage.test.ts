// Usage end to end: an agent turn run by the real AI SDK (streamText with its mock model: a main agent
// whose tool runs a subagent), each step logged through log-workflow-step over HTTP as it finishes,
// and the stored totals compared with the SDK's own totalUsage. Then budgets over HTTP.
import { type LanguageModelUsage, simulateReadableStream, stepCountIs, streamText, tool } from "ai";
import { jsonSchema } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { describe, expect, it } from "vitest";
import { uiMessage } from "../support/factories.ts";
import { invoke, newUser, read, service, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";

const sql = useFunctionsDatabase();

// ---------------------------------------------------------------------------------------------
// A mock provider: each model call is a stream that ends with the usage the provider reports
// ---------------------------------------------------------------------------------------------

interface ProviderUsage {
  input: { total: number; noCache?: number; cacheRead?: number; cacheWrite?: number };
  output: { total: number; text?: number; reasoning?: number };
  /** USD, as the AI Gateway reports it in providerMetadata.gateway.cost; absent: unknown. */
  cost?: string;
}

type Part = { type: "text"; text: string } | { type: "tool-call"; toolName: string; input: object };
/** What a provider's stream carries (LanguageModelV3StreamPart), as the mock model takes it. */
type StreamResult = Awaited<ReturnType<MockLanguageModelV3["doStream"]>>;
type StreamPart = StreamResult["stream"] extends ReadableStream<infer P> ? P : never;

function modelCall(parts: Part[], usage: ProviderUsage): StreamResult {
  const chunks: StreamPart[] = [
    { type: "stream-start", warnings: [] },
    ...parts.flatMap((part, i): StreamPart[] =>
      part.type === "text"
        ? [
          { type: "text-start", id: `t${i}` },
          { type: "text-delta", id: `t${i}`, delta: part.text },
          { type: "text-end", id: `t${i}` },
        ]
        : [{
          type: "tool-call",
          toolCallId: `call-${i}-${Math.random().toString(36).slice(2)}`,
          toolName: part.toolName,
          input: JSON.stringify(part.input),
        }]
    ),
    {
      type: "finish",
      finishReason: parts.some((p) => p.type === "tool-call")
        ? { unified: "tool-calls", raw: "tool_use" }
        : { unified: "stop", raw: "end_turn" },
      usage: {
        inputTokens: {
          total: usage.input.total,
          noCache: usage.input.noCache,
          cacheRead: usage.input.cacheRead,
          cacheWrite: usage.input.cacheWrite,
        },
        outputTokens: { total: usage.output.total, text: usage.output.text, reasoning: usage.output.reasoning },
      },
      providerMetadata: usage.cost ? { gateway: { cost: usage.cost } } : undefined,
    },
  ];
  return { stream: simulateReadableStream({ chunks, chunkDelayInMs: 1 }) };
}

/** What an agent worker sends for one step: the SDK's step, numbered in the order the calls started. */
interface LoggedStep {
  step_number: number;
  started_at: string;
  finished_at: string;
  finish_reason: string;
  usage: LanguageModelUsage;
  provider: string;
  model_id: string;
  agent_type: "main" | "subagent";
  tool_call_count: number;
  cost_micros?: number;
}

/**
 * A worker's step logging: a number and a start time when a model call starts (prepareStep), the
 * step sent to log-workflow-step when it finishes (onStepFinish). Main agent and subagents share the
 * run's numbering, so step 1 is the main agent's first call.
 */
function stepLogger(run: { id: string; chat_id: string; started_at: string }) {
  let next = 0;
  const sent: Promise<unknown>[] = [];
  const steps: LoggedStep[] = [];
  const track = (agentType: "main" | "subagent") => {
    const started: { number: number; at: string }[] = [];
    return {
      prepareStep: () => {
        started.push({ number: ++next, at: new Date().toISOString() });
        return {};
      },
      onStepFinish: (step: {
        usage: LanguageModelUsage;
        model: { provider: string; modelId: string };
        finishReason: string;
        toolCalls: unknown[];
        providerMetadata?: Record<string, Record<string, unknown>>;
      }) => {
        const { number, at } = started.shift()!;
        const cost = step.providerMetadata?.gateway?.cost;
        const logged: LoggedStep = {
          step_number: number,
          started_at: at,
          finished_at: new Date().toISOString(),
          finish_reason: step.finishReason,
          // Sent as the SDK reports it, deprecated fields and all.
          usage: JSON.parse(JSON.stringify(step.usage)),
          provider: step.model.provider,
          model_id: step.model.modelId,
          agent_type: agentType,
          tool_call_count: step.toolCalls.length,
          ...(typeof cost === "string" ? { cost_micros: Math.round(Number(cost) * 1e6) } : {}),
        };
        steps.push(logged);
        sent.push(invoke(service, "log-workflow-step", { run, steps: [logged] }));
      },
    };
  };
  return { track, steps, sent };
}

/** One agent turn: the main agent researches (a subagent with two calls), reads a file, then answers. */
async function agentTurn(run: { id: string; chat_id: string; started_at: string }) {
  const logger = stepLogger(run);
  const readFile = tool({
    description: "Read a file of the repository",
    inputSchema: jsonSchema<{ path: string }>({ type: "object", properties: { path: { type: "string" } } }),
    execute: ({ path }) => Promise.resolve(`contents of ${path}`),
  });
  const subagentModel = new MockLanguageModelV3({
    provider: "gateway",
    modelId: "openai/gpt-5-mini",
    doStream: [
      modelCall([{ type: "tool-call", toolName: "readFile", input: { path: "src/parser.ts" } }], {
        input: { total: 2100, noCache: 2100 },
        output: { total: 90, text: 90 },
        cost: "0.000611",
      }),
      modelCall([{ type: "text", text: "The parser buffers its whole input." }], {
        input: { total: 2600, noCache: 600, cacheRead: 2000 },
        output: { total: 140, text: 100, reasoning: 40 },
        cost: "0.000377",
      }),
    ],
  });
  const subagents: Promise<LanguageModelUsage>[] = [];
  const research = tool({
    description: "Hand a question to a research subagent",
    inputSchema: jsonSchema<{ question: string }>({ type: "object", properties: { question: { type: "string" } } }),
    execute: async ({ question }) => {
      const sub = streamText({
        model: subagentModel,
        prompt: question,
        tools: { readFile },
        stopWhen: stepCountIs(4),
        ...logger.track("subagent"),
      });
      subagents.push(Promise.resolve(sub.totalUsage));
      return await sub.text;
    },
  });
  const mainModel = new MockLanguageModelV3({
    provider: "gateway",
    modelId: "anthropic/claude-sonnet-4.5",
    doStream: [
      modelCall([{ type: "tool-call", toolName: "research", input: { question: "Why is parsing slow?" } }], {
        input: { total: 12000, noCache: 2000, cacheRead: 9500, cacheWrite: 500 },
        output: { total: 420, text: 300, reasoning: 120 },
        cost: "0.014130",
      }),
      modelCall([{ type: "tool-call", toolName: "readFile", input: { path: "src/stream.ts" } }], {
        input: { total: 12900, noCache: 900, cacheRead: 12000 },
        output: { total: 180, text: 180 },
        cost: "0.006210",
      }),
      // The last call's cost is not reported: stored as unknown, never guessed.
      modelCall([{ type: "text", text: "Done: the parser now streams." }], {
        input: { total: 13400, noCache: 400, cacheRead: 13000 },
        output: { total: 650, text: 500, reasoning: 150 },
      }),
    ],
  });
  const main = streamText({
    model: mainModel,
    prompt: "Make the parser stream its output.",
    tools: { research, readFile },
    stopWhen: stepCountIs(10),
    ...logger.track("main"),
  });
  await main.consumeStream();
  const mainUsage = await main.totalUsage;
  const subagentUsage = await Promise.all(subagents);
  await Promise.all(logger.sent);
  return { mainUsage, subagentUsage, steps: logger.steps };
}

/** The SDK's usage in the columns of a usage total (what the totals must equal). */
function asTotals(usages: LanguageModelUsage[]) {
  const sum = (pick: (u: LanguageModelUsage) => number | undefined) => usages.reduce((s, u) => s + (pick(u) ?? 0), 0);
  return {
    input_tokens: sum((u) => u.inputTokens),
    cache_read_tokens: sum((u) => u.inputTokenDetails.cacheReadTokens),
    cache_write_tokens: sum((u) => u.inputTokenDetails.cacheWriteTokens),
    output_tokens: sum((u) => u.outputTokens),
    reasoning_tokens: sum((u) => u.outputTokenDetails.reasoningTokens),
    total_tokens: sum((u) => u.totalTokens),
  };
}

const measures = `input_tokens::int, cache_read_tokens::int, cache_write_tokens::int, output_tokens::int,
  reasoning_tokens::int, total_tokens::int, tool_calls::int, cost_micros::int, unpriced_steps::int, steps::int,
  turns::int`;

describe("an agent turn run by the AI SDK, logged step by step", () => {
  it("stores totals equal to the SDK's own totalUsage, per run, chat, session and agent type", async () => {
    const { chatId, sessionId, accountId, client } = await userWithChat();
    const run = { id: uid("run"), chat_id: chatId, started_at: new Date().toISOString() };
    const { mainUsage, subagentUsage, steps } = await agentTurn(run);

    // The turn as the SDK saw it: three main calls, two subagent calls, numbered by start.
    expect(steps.map((s) => `${s.step_number}:${s.agent_type}`).sort()).toEqual(
      ["1:main", "2:subagent", "3:subagent", "4:main", "5:main"],
    );
    // A worker that retries a step (its response was lost) changes nothing.
    const retried = await invoke(service, "log-workflow-step", { run, steps: [steps[0]] });
    expect(retried.body.steps).toEqual([{ step_number: steps[0].step_number, recorded: false }]);
    const finished = await invoke(service, "log-workflow-step", {
      run,
      finish: { status: "completed", finished_at: new Date().toISOString() },
    });
    expect(finished.status).toBe(200);

    const allUsage = [mainUsage, ...subagentUsage];
    const costs = steps.map((s) => s.cost_micros).filter((c): c is number => c !== undefined);
    const expected = {
      ...asTotals(allUsage),
      tool_calls: steps.reduce((sum, s) => sum + s.tool_call_count, 0),
      cost_micros: costs.reduce((a, b) => a + b, 0),
      unpriced_steps: steps.length - costs.length,
      steps: steps.length,
      turns: 1,
    };
    expect(expected).toMatchObject({ tool_calls: 3, cost_micros: 21328, unpriced_steps: 1, steps: 5 });
    const [runTotals] = await sql.unsafe(`select ${measures} from workflow_run_usage where workflow_run_id = $1`, [
      run.id,
    ]);
    const [chatTotals] = await sql.unsafe(`select ${measures} from chat_usage where chat_id = $1`, [chatId]);
    const [sessionTotals] = await sql.unsafe(`select ${measures} from session_usage where session_id = $1`, [
      sessionId,
    ]);
    expect(runTotals).toEqual(expected);
    expect(chatTotals).toEqual(expected);
    expect(sessionTotals).toEqual(expected);

    // Per agent type, each equals that agent's own totalUsage.
    const daily = await sql.unsafe(
      `select agent_type, model_id, provider, ${measures} from usage_daily where account_id = $1 order by agent_type`,
      [accountId],
    );
    expect(daily.map((d) => [d.agent_type, d.model_id, d.provider])).toEqual([
      ["main", "anthropic/claude-sonnet-4.5", "gateway"],
      ["subagent", "openai/gpt-5-mini", "gateway"],
    ]);
    expect(daily[0]).toMatchObject({ ...asTotals([mainUsage]), turns: 1, steps: 3 });
    expect(daily[1]).toMatchObject({ ...asTotals(subagentUsage), turns: 0, steps: 2 });

    // The owner reads the same through GET /usage: by chat (all time) and by model (this month).
    const byChat = await read(client, "usage", { group_by: "chat" });
    expect(byChat.status).toBe(200);
    expect(byChat.body.rows).toEqual([{ key: chatId, ...expected }]);
    const byModel = await read(client, "usage", { group_by: "model" });
    expect(byModel.body.rows.map((r) => [r.key, r.total_tokens])).toEqual([
      ["anthropic/claude-sonnet-4.5", mainUsage.totalTokens],
      ["openai/gpt-5-mini", subagentUsage[0].totalTokens],
    ]);

    // Each step row holds what the SDK reported for it, in the columns of that name.
    const stored = await sql`
      select step_number, input_tokens::int, no_cache_tokens::int, text_tokens::int, total_tokens::int, cost_micros::int
        from workflow_run_steps where workflow_run_id = ${run.id} order by step_number`;
    expect(stored).toEqual(
      [...steps].sort((a, b) => a.step_number - b.step_number).map((s) => ({
        step_number: s.step_number,
        input_tokens: s.usage.inputTokens,
        no_cache_tokens: s.usage.inputTokenDetails.noCacheTokens,
        text_tokens: s.usage.outputTokenDetails.textTokens ?? null,
        total_tokens: s.usage.totalTokens,
        cost_micros: s.cost_micros ?? null,
      })),
    );
  });
});

describe("log-workflow-step with usage", () => {
  const at = "2026-11-02T10:00:00Z";
  const step = (usage: object, extra: object = {}) => ({
    step_number: 1,
    started_at: at,
    finished_at: at,
    usage,
    ...extra,
  });

  it("takes totalTokens as input + output when the SDK shape leaves it out, and the deprecated fields as fallbacks", async () => {
    const { chatId } = await userWithChat();
    const run = { id: uid("run"), chat_id: chatId, started_at: at };
    const { status } = await invoke(service, "log-workflow-step", {
      run,
      steps: [step({ inputTokens: 30, outputTokens: 12, cachedInputTokens: 20, reasoningTokens: 5, raw: { x: 1 } })],
    });
    expect(status).toBe(201);
    const [row] = await sql`
      select input_tokens::int, output_tokens::int, total_tokens::int, cache_read_tokens::int, reasoning_tokens::int,
             agent_type, cost_micros
        from workflow_run_steps where workflow_run_id = ${run.id}`;
    expect(row).toEqual({
      input_tokens: 30,
      output_tokens: 12,
      total_tokens: 42,
      cache_read_tokens: 20,
      reasoning_tokens: 5,
      agent_type: "main",
      cost_micros: null,
    });
  });

  it("refuses negative or fractional counts, unknown keys and agent types with 400, writing nothing", async () => {
    const { chatId } = await userWithChat();
    const run = { id: uid("run"), chat_id: chatId, started_at: at };
    for (
      const bad of [
        step({ inputTokens: -1 }),
        step({ outputTokens: 1.5 }),
        step({ inputTokenDetails: { cachedTokens: 3 } }),
        step({}, { agent_type: "helper" }),
        step({}, { cost_micros: -1 }),
      ]
    ) {
      const { status, body } = await invoke(service, "log-workflow-step", { run, steps: [bad] });
      expect(status, JSON.stringify(bad)).toBe(400);
      expect(body).toMatchObject({ error: { code: "invalid_request" } });
    }
    expect((await sql`select 1 from workflow_runs where id = ${run.id}`).length).toBe(0);
  });
});

describe("GET usage", () => {
  const firstOfMonth = () => new Date().toISOString().slice(0, 8) + "01";

  it("by day over from..to, the default being this month to today; the budget alongside", async () => {
    const user = await userWithChat();
    await spend(user.chatId, 250);
    const today = new Date().toISOString().slice(0, 10);
    const month = await read(user.client, "usage");
    expect(month.body).toMatchObject({ group_by: "day", from: firstOfMonth(), to: today, budget: null });
    expect(month.body.rows).toEqual([expect.objectContaining({ key: today, cost_micros: 250, steps: 1, turns: 1 })]);
    const past = await read(user.client, "usage", { from: "2026-01-01", to: "2026-01-31" });
    expect(past.body.rows).toEqual([]);

    await invoke(service, "set-budget", { account_id: user.accountId, limit_cost_micros: 1000 });
    const withBudget = await read(user.client, "usage", { group_by: "session" });
    expect(withBudget.body.rows.map((r) => r.key)).toEqual([user.sessionId]);
    expect(withBudget.body.budget).toMatchObject({ limit_cost_micros: 1000, used_cost_micros: 250, exceeded: false });
  });

  it("the service role names the account; a user may not name another; bad parameters are 400s", async () => {
    const user = await userWithChat(), other = await newUser();
    await spend(user.chatId, 10);
    const forService = await read(service, "usage", { account_id: user.accountId, group_by: "chat" });
    expect(forService.body.rows.map((r) => r.key)).toEqual([user.chatId]);
    expect((await read(service, "usage")).status).toBe(400);
    expect((await read(other.client, "usage", { account_id: user.accountId })).status).toBe(403);
    expect((await read(other.client, "usage", { group_by: "chat" })).body.rows).toEqual([]);
    const refused: Record<string, string>[] = [
      { group_by: "week" },
      { from: "2026-02-30" },
      { from: "2026-03-01", to: "2026-02-01" },
      { limit: "0" },
      { since: "2026-01-01" },
    ];
    for (const bad of refused) {
      const { status, body } = await read(user.client, "usage", bad);
      expect(status, JSON.stringify(bad)).toBe(400);
      expect(body, JSON.stringify(bad)).toMatchObject({ error: { code: "invalid_request" } });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Budgets over HTTP
// ---------------------------------------------------------------------------------------------

async function spend(chatId: string, costMicros: number) {
  const now = new Date().toISOString();
  const { status } = await invoke(service, "log-workflow-step", {
    run: { id: uid("run"), chat_id: chatId, started_at: now },
    steps: [{ step_number: 1, started_at: now, finished_at: now, cost_micros: costMicros, usage: { totalTokens: 10 } }],
  });
  expect(status).toBe(201);
}

describe("budgets", () => {
  it("set-budget is for the service role; it answers where the account stands", async () => {
    const user = await userWithChat();
    await spend(user.chatId, 700);
    const set = await invoke(service, "set-budget", { account_id: user.accountId, limit_cost_micros: 1000 });
    expect(set).toMatchObject({
      status: 200,
      body: { budget: { period: "month", limit_cost_micros: 1000, used_cost_micros: 700, exceeded: false } },
    });
    expect((await invoke(user.client, "set-budget", { account_id: user.accountId, limit_cost_micros: 1 })).status)
      .toBe(403);
    expect((await invoke(service, "set-budget", { account_id: crypto.randomUUID() })).status).toBe(404);
    expect((await invoke(service, "set-budget", { account_id: user.accountId, limit_cost_micros: -1 })).status)
      .toBe(400);
  });

  it("a user message of an over-budget account is 402 budget_exceeded with the limit and the amount used, and writes nothing", async () => {
    const user = await userWithChat();
    await invoke(service, "set-budget", { account_id: user.accountId, limit_cost_micros: 1000 });
    await spend(user.chatId, 1000);
    const [before] = await sql`select status, revision, last_message_seq from chats where id = ${user.chatId}`;

    const refused = await invoke(user.client, "append-message", {
      chat_id: user.chatId,
      message: uiMessage(uid("m"), "user", "one more thing"),
    });
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ error: { code: "budget_exceeded" } });
    const { error } = refused.body as unknown as { error: { message: string; details: Record<string, unknown> } };
    expect(error.message).toMatch(/1000 of 1000 micro-USD/);
    expect(error.details).toMatchObject({ limit_cost_micros: 1000, used_cost_micros: 1000, exceeded: true });
    expect(await sql`select status, revision, last_message_seq from chats where id = ${user.chatId}`).toEqual([
      before,
    ]);
    expect((await sql`select count(*)::int as n from chat_messages where chat_id = ${user.chatId}`)[0].n).toBe(0);

    // Raising the budget lets the next message run.
    await invoke(service, "set-budget", { account_id: user.accountId, limit_cost_micros: 2000 });
    const accepted = await invoke(user.client, "append-message", {
      chat_id: user.chatId,
      message: uiMessage(uid("m"), "user", "one more thing"),
    });
    expect(accepted.status).toBe(201);
    expect((await sql`select status from chats where id = ${user.chatId}`)[0].status).toBe("pending");
  });

  it("claim-chats leaves an over-budget account's pending chat to error budget_exceeded instead of a worker", async () => {
    const user = await userWithChat();
    const sent = await invoke(user.client, "append-message", {
      chat_id: user.chatId,
      message: uiMessage(uid("m"), "user", "go"),
    });
    expect(sent.status).toBe(201);
    await invoke(service, "set-budget", { account_id: user.accountId, limit_total_tokens: 10 });
    await spend(user.chatId, 0); // ten tokens: at the limit
    const claimed = await invoke(service, "claim-chats", { runner_id: "w-budget", chat_ids: [user.chatId] });
    expect(claimed).toMatchObject({ status: 200, body: { claims: [] } });
    const [chat] = await sql`select status, last_error, active_stream_id from chats where id = ${user.chatId}`;
    expect(chat).toEqual({ status: "error", last_error: "budget_exceeded", active_stream_id: null });
  });

  it("another account's budget is not the caller's: a user without a budget is never refused", async () => {
    const spender = await userWithChat(), other = await newUser();
    await invoke(service, "set-budget", { account_id: spender.accountId, limit_cost_micros: 0 });
    const created = await invoke(other.client, "create-chat", { session: { title: "mine" } });
    expect(created.status).toBe(201);
    const chatId = (created.body as { chat: { id: string } }).chat.id;
    const appended = await invoke(other.client, "append-message", {
      chat_id: chatId,
      message: uiMessage(uid("m"), "user"),
    });
    expect(appended.status).toBe(201);
  });
});
