// deno-lint-ignore-file no-explicit-any -- results are untyped jsonb here; the assertions check their shape
// Usage and budgets at the SQL level: what a step records, the totals the step trigger keeps (checked
// against a full recomputation after randomized concurrent workloads with retries), the budget that
// stops an account's next turn, and the usage read.
import { describe, expect, it } from "vitest";
import { asUser, failure, rpcOn, useTestDatabase } from "../support/db.ts";
import { id, makeAccount, makeChat, ownedChat, uiMessage } from "../support/factories.ts";
import { totalsAndRecomputation, usageTables } from "../support/usage.ts";

const { sql } = await useTestDatabase();
const { asService, asOwner } = rpcOn(sql);
/** The chats of these tests run one model, so usage is grouped by it. */
const usageChat = { fields: { model_id: "chat-model" } };

interface Step {
  step_number: number;
  started_at: string;
  finished_at: string;
  [column: string]: unknown;
}
// Steps into a held chat name its holder, as a worker does (these tests are about usage, not leases).
const log = (runId: string, chatId: string, steps: Step[], model: string | null = null) =>
  asService(
    "public.log_workflow_step($1, $2, $3::timestamptz, $4, $5::jsonb, runner_id => (select runner_id from public.chats where id = $2))",
    runId,
    chatId,
    steps[0]?.started_at ?? new Date().toISOString(),
    model,
    steps,
  );
const at = (iso: string, seconds = 0) => new Date(Date.parse(iso) + seconds * 1000).toISOString();
const step = (n: number, finished: string, usage: Record<string, unknown> = {}): Step => ({
  step_number: n,
  started_at: at(finished, -1),
  finished_at: finished,
  ...usage,
});
const row = async (table: string, where: string, ...args: unknown[]) =>
  (await sql.unsafe(`select to_jsonb(t) - 'created_at' as r from ${table} t where ${where}`, args as never[]))[0]?.r;

describe("recording usage", () => {
  it("stores a step's usage in its columns and adds it once to its run, chat, session and day; a retry adds nothing", async () => {
    const { accountId, sessionId, chatId } = await ownedChat(sql, usageChat);
    const usage = {
      provider: "anthropic",
      model_id: "claude-x",
      agent_type: "main",
      input_tokens: 1200,
      no_cache_tokens: 200,
      cache_read_tokens: 900,
      cache_write_tokens: 100,
      output_tokens: 300,
      text_tokens: 250,
      reasoning_tokens: 50,
      total_tokens: 1500,
      tool_call_count: 2,
      cost_micros: 4321,
    };
    const first = await log("run-a", chatId, [step(1, "2026-11-02T10:00:00Z", usage)]);
    const retry = await log("run-a", chatId, [step(1, "2026-11-02T10:00:00Z", usage)]);
    expect([first.steps, retry.steps]).toEqual([[{ step_number: 1, recorded: true }], [{
      step_number: 1,
      recorded: false,
    }]]);

    const [stored] = await sql`select * from workflow_run_steps where workflow_run_id = 'run-a'`;
    expect(stored).toMatchObject(Object.fromEntries(
      Object.entries(usage).map(([k, v]) => [k, typeof v === "number" ? String(v) : v]),
    ));
    const totals = {
      input_tokens: 1200,
      cache_read_tokens: 900,
      cache_write_tokens: 100,
      output_tokens: 300,
      reasoning_tokens: 50,
      total_tokens: 1500,
      tool_calls: 2,
      cost_micros: 4321,
      unpriced_steps: 0,
      steps: 1,
      turns: 1,
    };
    expect(await row("workflow_run_usage", "workflow_run_id = 'run-a'")).toEqual({
      workflow_run_id: "run-a",
      account_id: accountId,
      ...totals,
    });
    expect(await row("chat_usage", "chat_id = $1", chatId)).toEqual({
      chat_id: chatId,
      account_id: accountId,
      ...totals,
    });
    expect(await row("session_usage", "session_id = $1", sessionId)).toEqual({
      session_id: sessionId,
      account_id: accountId,
      ...totals,
    });
    expect(await row("usage_daily", "account_id = $1", accountId)).toEqual({
      account_id: accountId,
      day: "2026-11-02",
      provider: "anthropic",
      model_id: "claude-x",
      agent_type: "main",
      stripe: expect.any(Number),
      ...totals,
    });
  });

  it("a step without usage is an unpriced step (step 1 a turn) under the run's model, no provider, the main agent", async () => {
    const { accountId, chatId } = await ownedChat(sql, usageChat);
    await log("run-b", chatId, [step(1, "2026-11-03T00:00:00Z"), step(2, "2026-11-03T00:00:05Z")], "run-model");
    await log("run-b", chatId, [step(3, "2026-11-03T00:00:09Z", { agent_type: "subagent", cost_micros: 7 })]);
    const days = await sql`
      select provider, model_id, agent_type, steps::int, unpriced_steps::int, turns::int, cost_micros::int
        from usage_daily where account_id = ${accountId} order by agent_type`;
    expect(days).toEqual([
      {
        provider: "",
        model_id: "run-model",
        agent_type: "main",
        steps: 2,
        unpriced_steps: 2,
        turns: 1,
        cost_micros: 0,
      },
      {
        provider: "",
        model_id: "run-model",
        agent_type: "subagent",
        steps: 1,
        unpriced_steps: 0,
        turns: 0,
        cost_micros: 7,
      },
    ]);
  });

  it("counts each step on the UTC day it finished, a turn across midnight on both days", async () => {
    const { accountId, chatId } = await ownedChat(sql, usageChat);
    await log("run-c", chatId, [
      step(1, "2026-10-31T23:59:59.999Z", { total_tokens: 10 }),
      step(2, "2026-11-01T00:00:00Z", { total_tokens: 20 }),
    ]);
    const days = await sql`
      select day::text, total_tokens::int, turns::int from usage_daily where account_id = ${accountId} order by day`;
    expect(days).toEqual([
      { day: "2026-10-31", total_tokens: 10, turns: 1 },
      { day: "2026-11-01", total_tokens: 20, turns: 0 },
    ]);
  });

  it("refuses negative counts, unknown agent types and empty model names, writing nothing", async () => {
    const { chatId } = await ownedChat(sql, usageChat);
    for (const bad of [{ input_tokens: -1 }, { cost_micros: -5 }, { agent_type: "helper" }, { model_id: "" }]) {
      const error = await failure(log(id("run"), chatId, [step(1, "2026-11-04T00:00:00Z", bad)]));
      expect(error?.code, JSON.stringify(bad)).toBe("23514");
    }
    expect((await sql`select count(*)::int as n from chat_usage where chat_id = ${chatId}`)[0].n).toBe(0);
  });

  it("deleting a chat deletes its own totals, not what it added to its session and its account's days", async () => {
    const { accountId, sessionId, chatId } = await ownedChat(sql, usageChat);
    await log("run-d", chatId, [step(1, "2026-11-05T00:00:00Z", { cost_micros: 99 })]);
    await sql`delete from chats where id = ${chatId}`;
    expect(await row("chat_usage", "chat_id = $1", chatId)).toBeUndefined();
    expect(await row("workflow_run_usage", "workflow_run_id = 'run-d'")).toBeUndefined();
    expect((await row("session_usage", "session_id = $1", sessionId)).cost_micros).toBe(99);
    expect((await row("usage_daily", "account_id = $1", accountId)).cost_micros).toBe(99);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized concurrent workloads
// ---------------------------------------------------------------------------------------------

/** A small seeded generator (mulberry32), so a failing workload can be replayed from its seed. */
function generator(seed: number) {
  let state = seed;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: T[]) => items[int(0, items.length - 1)];
  const maybe = <T>(value: T, p = 0.8) => (next() < p ? value : undefined);
  return { next, int, pick, maybe };
}

interface Call {
  runId: string;
  chatId: string;
  model: string | null;
  steps: Step[];
}

/**
 * Runs over the given chats, each a few steps with random usage (some unknown), providers, models,
 * agent types and finish times around a UTC midnight; sent in batches, a share of them retried later
 * and a share sent twice at the same moment.
 */
function workload(random: ReturnType<typeof generator>, chats: string[], runs: number) {
  const calls: Call[] = [];
  const sent: Step[][] = [];
  for (let r = 0; r < runs; r++) {
    const runId = `w-${random.int(0, 1e9)}-${r}`;
    const chatId = random.pick(chats);
    const model = random.pick(["model-a", "model-b", null]);
    let clock = Date.UTC(2026, 9, 31, 23, 59, 0) + random.int(0, 120_000);
    const steps: Step[] = [];
    for (let n = 1, count = random.int(1, 6); n <= count; n++) {
      const started = clock;
      clock += random.int(1000, 20_000);
      const input = random.int(0, 5000), output = random.int(0, 2000);
      steps.push(JSON.parse(JSON.stringify({
        step_number: n,
        started_at: new Date(started).toISOString(),
        finished_at: new Date(clock).toISOString(),
        provider: random.maybe(random.pick(["anthropic", "openai"])),
        model_id: random.maybe(random.pick(["model-a", "model-c"]), 0.5),
        agent_type: n === 1 ? "main" : random.maybe(random.pick(["main", "subagent"])),
        input_tokens: random.maybe(input),
        cache_read_tokens: random.maybe(random.int(0, input)),
        cache_write_tokens: random.maybe(random.int(0, 100)),
        output_tokens: random.maybe(output),
        reasoning_tokens: random.maybe(random.int(0, output)),
        total_tokens: random.maybe(input + output),
        tool_call_count: random.maybe(random.int(0, 4)),
        cost_micros: random.maybe(random.int(0, 90_000), 0.7),
      })));
    }
    sent.push(steps);
    for (let i = 0; i < steps.length;) {
      const size = random.int(1, 3);
      calls.push({ runId, chatId, model, steps: steps.slice(i, i + size) });
      i += size;
    }
  }
  // Retries: 40% of the calls again, some later in the queue, some right next to the original (so
  // two writers send them at the same moment); a retry may also regroup a run's steps.
  const queue: Call[] = [];
  for (const call of calls) {
    queue.push(call);
    if (random.next() < 0.15) queue.push({ ...call });
  }
  for (const call of calls) if (random.next() < 0.25) queue.splice(random.int(0, queue.length), 0, { ...call });
  for (let i = queue.length - 1; i > 0; i--) {
    if (random.next() < 0.5) continue; // keep some duplicates adjacent
    const j = random.int(0, i);
    [queue[i], queue[j]] = [queue[j], queue[i]];
  }
  return { queue, steps: sent.flat() };
}

async function runConcurrently(queue: Call[], writers: number) {
  const pending = [...queue];
  const errors: unknown[] = [];
  await Promise.all(Array.from({ length: writers }, async () => {
    for (let call = pending.shift(); call; call = pending.shift()) {
      await log(call.runId, call.chatId, call.steps, call.model).catch((error) => void errors.push(error));
    }
  }));
  return errors;
}

async function expectTotalsEqualRecomputation(accounts: string[], seed: number) {
  for (const table of usageTables) {
    const { maintained, recomputed } = await totalsAndRecomputation(sql, table, accounts);
    expect(recomputed.length, `${table} (seed ${seed})`).toBeGreaterThan(0);
    expect(maintained, `${table} (seed ${seed})`).toEqual(recomputed);
  }
}

describe("the totals under concurrency and retries", () => {
  it("every maintained total equals a full recomputation after a randomized workload of 16 writers over three accounts", async () => {
    const seed = Number(process.env.USAGE_SEED ?? Date.now() % 1e9);
    const random = generator(seed);
    const accounts: string[] = [], chats: string[] = [];
    for (let a = 0; a < 3; a++) {
      const accountId = await makeAccount(sql);
      accounts.push(accountId);
      for (let s = 0; s < 2; s++) {
        const { sessionId } = await ownedChat(sql, { ...usageChat, accountId: accountId });
        for (let c = 0; c < 2; c++) chats.push((await makeChat(sql, sessionId)).id);
      }
    }
    const { queue, steps } = workload(random, chats, 150);
    expect(await runConcurrently(queue, 16), `seed ${seed}`).toEqual([]);

    // Nothing lost, nothing doubled: the stored steps are exactly the generated ones...
    const [{ n }] = await sql`
      select count(*)::int as n from workflow_run_steps st join workflow_runs r on r.id = st.workflow_run_id
       where r.chat_id = any(${chats})`;
    expect(n, `seed ${seed}`).toBe(steps.length);
    // ...and every total is what a scan of them gives, to the token and the micro-dollar.
    await expectTotalsEqualRecomputation(accounts, seed);
    const [{ cost }] = await sql`
      select coalesce(sum(cost_micros), 0)::bigint::text as cost from usage_daily where account_id = any(${accounts})`;
    expect(cost, `seed ${seed}`).toBe(String(steps.reduce((sum, s) => sum + ((s.cost_micros as number) ?? 0), 0)));
  });

  it("two turns of one account whose steps use two models in opposite orders do not deadlock", async () => {
    // Two runs in different sessions (no totals row in common but the account's days), in the same
    // stripe, so they share the account's day rows for both models.
    const { accountId, chatId } = await ownedChat(sql, usageChat);
    const other = await ownedChat(sql, { ...usageChat, accountId: accountId });
    const [{ runs }] = await sql`
      select array_agg(id order by n) as runs from (
        select 'opposite-' || g as id, g as n from generate_series(1, 200) g
         where hashtext('opposite-' || g) & 7 = hashtext('opposite-1') & 7 limit 2) same`;
    const when = "2026-11-06T00:00:00Z";
    await log(runs[0], chatId, []);
    await log(runs[1], other.chatId, []);
    const insertStep = (tx: any, run: string, n: number, model: string) =>
      tx`insert into workflow_run_steps (workflow_run_id, step_number, started_at, finished_at, duration_ms, model_id)
         values (${run}, ${n}, ${when}, ${when}, 0, ${model})`;
    const first = await sql.reserve(), second = await sql.reserve();
    try {
      await first`begin`;
      await second`begin`;
      await insertStep(first, runs[0], 1, "model-a");
      // The second turn waits for the first from its first step on (the account's stripe lock)...
      const secondTurn = (async () => {
        await insertStep(second, runs[1], 1, "model-b");
        await insertStep(second, runs[1], 2, "model-a");
        await second`commit`;
      })();
      await new Promise((resolve) => setTimeout(resolve, 200));
      // ...so the first can take the other model's row and commit; without the lock, this would
      // wait for the second turn while it waits for the first: a deadlock.
      await insertStep(first, runs[0], 2, "model-b");
      await first`commit`;
      await secondTurn;
    } finally {
      first.release();
      second.release();
    }
    const steps = await sql`select count(*)::int as n from workflow_run_steps where workflow_run_id = any(${runs})`;
    expect(steps[0].n).toBe(4);
  });

  it("16 writers logging steps for one account, each call sent twice at once: the daily rollup equals the recomputation", async () => {
    const seed = Number(process.env.USAGE_SEED ?? Date.now() % 1e9) + 1;
    const random = generator(seed);
    const accountId = await makeAccount(sql);
    const chats: string[] = [];
    for (let c = 0; c < 16; c++) chats.push((await ownedChat(sql, { ...usageChat, accountId: accountId })).chatId);
    const { queue } = workload(random, chats, 120);
    const twice = queue.flatMap((call) => [call, { ...call }]);
    expect(await runConcurrently(twice, 16), `seed ${seed}`).toEqual([]);
    await expectTotalsEqualRecomputation([accountId], seed);
  });
});

// ---------------------------------------------------------------------------------------------
// Budgets
// ---------------------------------------------------------------------------------------------

const now = () => new Date().toISOString();
const say = (accountId: string, chatId: string, messageId = id("u")) =>
  asOwner(accountId, "public.append_message($1, $2::jsonb)", chatId, uiMessage(messageId, "user"));
const spend = (chatId: string, usage: Record<string, unknown>, finished = now()) =>
  log(id("spend"), chatId, [step(1, finished, usage)]);
const setBudget = (
  accountId: string,
  limits: { limit_cost_micros?: number | null; limit_total_tokens?: number | null },
) =>
  asService(
    "public.set_budget($1, $2, $3)",
    accountId,
    limits.limit_cost_micros ?? null,
    limits.limit_total_tokens ?? null,
  );
const chatState = async (chatId: string) =>
  (await sql`select status, last_error, revision::int, last_message_seq::int, active_stream_id
               from chats where id = ${chatId}`)[0];
const count = async (table: string, chatId: string) =>
  (await sql.unsafe(`select count(*)::int as n from ${table} where chat_id = $1`, [chatId]))[0].n;

describe("budgets", () => {
  it("claim_chats puts an over-budget account's pending chat in error and claims the next pending chat in its place", async () => {
    const spender = await ownedChat(sql, usageChat);
    const other = await ownedChat(sql, usageChat);
    await setBudget(spender.accountId, { limit_cost_micros: 1000 });
    await say(spender.accountId, spender.chatId);
    await say(other.accountId, other.chatId);
    // The account reaches its limit after its message was accepted (another chat's turn spent it).
    const { chatId: busyChat } = await ownedChat(sql, { ...usageChat, accountId: spender.accountId });
    await spend(busyChat, { cost_micros: 1000 });

    const { claims } = await asService("public.claim_chats('w1', 1, $1)", [spender.chatId, other.chatId]);
    expect(claims.map((c: any) => c.chat.id)).toEqual([other.chatId]);
    expect(await chatState(spender.chatId)).toMatchObject({
      status: "error",
      last_error: "budget_exceeded",
      active_stream_id: null,
    });
    expect(await count("workflow_runs", spender.chatId)).toBe(0);
  });

  it("a user message of an over-budget account is PT402 budget_exceeded with the limit and the amount used; nothing is written", async () => {
    const { accountId, chatId } = await ownedChat(sql, usageChat);
    await setBudget(accountId, { limit_cost_micros: 1000 });
    await spend(chatId, { cost_micros: 1250 });
    const before = await chatState(chatId);

    const error = await failure(say(accountId, chatId, "refused-1"));
    expect(error).toMatchObject({ code: "PT402", detail: "budget_exceeded" });
    expect(error?.message).toMatch(/1250 of 1000 micro-USD/);
    expect(JSON.parse(error!.hint!)).toMatchObject({
      period: "month",
      limit_cost_micros: 1000,
      used_cost_micros: 1250,
      limit_total_tokens: null,
    });
    // The service role appending on the owner's behalf is refused alike.
    expect(
      (await failure(asService("public.append_message($1, $2::jsonb)", chatId, uiMessage("refused-2", "user"))))
        ?.code,
    ).toBe("PT402");
    expect(await chatState(chatId)).toEqual(before);
    expect(await count("chat_messages", chatId)).toBe(0);
  });

  it("a retry of a user message accepted before the budget ran out is answered as before, not refused", async () => {
    const { accountId, chatId } = await ownedChat(sql, usageChat);
    await setBudget(accountId, { limit_cost_micros: 100 });
    expect((await say(accountId, chatId, "accepted")).created).toBe(true);
    await spend(chatId, { cost_micros: 100 });
    expect(await say(accountId, chatId, "accepted")).toMatchObject({ created: false, message: { id: "accepted" } });
    expect((await failure(say(accountId, chatId, "new")))?.code).toBe("PT402");
  });

  it("a message that would be queued is refused too; assistant messages and the end of a turn are not", async () => {
    const { accountId, chatId } = await ownedChat(sql, usageChat);
    await setBudget(accountId, { limit_cost_micros: 1000 });
    await say(accountId, chatId, "first");
    const { claims: [{ run }] } = await asService("public.claim_chats('w1', 1, $1)", [chatId]);
    await say(accountId, chatId, "queued-in-time");
    await spend(chatId, { cost_micros: 1000 });

    expect((await failure(say(accountId, chatId, "queued-too-late")))?.code).toBe("PT402");
    expect(await count("chat_queued_messages", chatId)).toBe(1);
    const reply = await asService(
      "public.append_message($1, $2::jsonb, 'w1')",
      chatId,
      uiMessage("reply", "assistant"),
    );
    expect(reply.created).toBe(true);

    // Finishing the turn promotes the message queued in time (it was checked then); the next claim
    // finds the account over budget.
    await asService(
      "public.log_workflow_step($1, $2, finish_status => 'completed', finished_at => now())",
      run.id,
      chatId,
    );
    const history = await sql`select id from chat_messages where chat_id = ${chatId} order by seq`;
    expect(history.map((m) => m.id)).toEqual(["first", "reply", "queued-in-time"]);
    expect((await chatState(chatId)).status).toBe("pending");
    expect((await asService("public.claim_chats('w1', 1, $1)", [chatId])).claims).toEqual([]);
    expect(await chatState(chatId)).toMatchObject({ status: "error", last_error: "budget_exceeded" });
  });

  it("a token limit counts total_tokens from the first of the month; earlier months do not count", async () => {
    const { accountId, chatId } = await ownedChat(sql, usageChat);
    await setBudget(accountId, { limit_total_tokens: 500 });
    const lastMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 0, 12)).toISOString();
    await spend(chatId, { total_tokens: 10_000 }, lastMonth);
    await spend(chatId, { total_tokens: 499, cost_micros: 10 ** 9 });
    expect((await say(accountId, chatId)).created).toBe(true);
    await spend(chatId, { total_tokens: 1 });
    const error = await failure(say(accountId, chatId));
    expect(error).toMatchObject({ code: "PT402", detail: "budget_exceeded" });
    expect(error?.message).toMatch(/500 of 500 tokens/);
  });

  it("raising the budget lets the next message run; no budget row or null limits mean no limit", async () => {
    const { accountId, chatId } = await ownedChat(sql, usageChat);
    await spend(chatId, { cost_micros: 5000, total_tokens: 5000 });
    expect((await say(accountId, chatId)).created).toBe(true);
    await asService("public.stop_chat($1)", chatId);
    await setBudget(accountId, { limit_cost_micros: null, limit_total_tokens: null });
    expect((await say(accountId, chatId)).created).toBe(true);
    await asService("public.stop_chat($1)", chatId);

    await setBudget(accountId, { limit_cost_micros: 5000 });
    expect((await failure(say(accountId, chatId)))?.code).toBe("PT402");
    await setBudget(accountId, { limit_cost_micros: 6000 });
    expect((await say(accountId, chatId, "after-raise")).created).toBe(true);
    const { claims } = await asService("public.claim_chats('w1', 1, $1)", [chatId]);
    expect(claims.map((c: any) => c.chat.id)).toEqual([chatId]);
  });

  it("set_budget (service role) reports where the account stands; users may not call it; an unknown account is PT404", async () => {
    const { accountId, chatId } = await ownedChat(sql, usageChat);
    await spend(chatId, { cost_micros: 300, total_tokens: 40 });
    const { budget } = await setBudget(accountId, { limit_cost_micros: 1000 });
    expect(budget).toMatchObject({
      period: "month",
      limit_cost_micros: 1000,
      used_cost_micros: 300,
      limit_total_tokens: null,
      used_total_tokens: 40,
      exceeded: false,
    });
    expect((await setBudget(accountId, { limit_total_tokens: 40 })).budget).toMatchObject({
      limit_cost_micros: null,
      exceeded: true,
    });
    expect((await failure(asOwner(accountId, "public.set_budget($1, 1)", accountId)))?.code).toBe("42501");
    expect((await failure(setBudget(crypto.randomUUID(), { limit_cost_micros: 1 })))?.code).toBe("PT404");
  });

  it("owners read their own budget and cannot write it; nobody else sees it", async () => {
    const { accountId } = await ownedChat(sql, usageChat);
    await setBudget(accountId, { limit_cost_micros: 100 });
    const seen = await asUser(
      sql,
      accountId,
      (tx) => tx`select account_id, limit_cost_micros::int from account_budgets`,
    );
    expect(seen).toEqual([{ account_id: accountId, limit_cost_micros: 100 }]);
    const raised = await asUser(
      sql,
      accountId,
      (tx) => tx`update account_budgets set limit_cost_micros = 10 ^ 12 returning 1`,
    );
    expect(raised.length).toBe(0);
    const stranger = await makeAccount(sql);
    expect(await asUser(sql, stranger, (tx) => tx`select 1 from account_budgets`)).toEqual([]);
    const inserted = await failure(
      asUser(
        sql,
        stranger,
        (tx) => tx`insert into account_budgets (account_id, limit_cost_micros) values (${stranger}, 1)`,
      ),
    );
    expect(inserted?.code).toBe("42501");
  });
});

// ---------------------------------------------------------------------------------------------
// Reading usage
// ---------------------------------------------------------------------------------------------

describe("get_usage", () => {
  const today = () => new Date().toISOString().slice(0, 10);
  const firstOfMonth = () => today().slice(0, 8) + "01";

  async function accountWithHistory() {
    const accountId = await makeAccount(sql);
    const first = await ownedChat(sql, { ...usageChat, accountId: accountId }),
      second = await ownedChat(sql, { ...usageChat, accountId: accountId });
    const thisMonth = `${firstOfMonth()}T08:00:00Z`;
    await log("h1-" + accountId, first.chatId, [
      step(1, "2026-09-30T10:00:00Z", { model_id: "m-1", total_tokens: 100, cost_micros: 10 }),
      step(2, "2026-10-01T10:00:00Z", { model_id: "m-2", total_tokens: 200, cost_micros: 20, agent_type: "subagent" }),
    ]);
    await log("h2-" + accountId, second.chatId, [
      step(1, "2026-10-01T11:00:00Z", { model_id: "m-2", total_tokens: 400, cost_micros: 40, tool_call_count: 3 }),
      step(2, thisMonth, { model_id: "m-1", input_tokens: 5, total_tokens: 5 }),
    ]);
    return { accountId, first, second };
  }

  it("sums usage_daily by UTC day and by model over from..to (inclusive), most expensive model first", async () => {
    const { accountId } = await accountWithHistory();
    const byDay = await asOwner(accountId, "public.get_usage(from_day => '2026-09-30', to_day => '2026-10-01')");
    expect(byDay).toMatchObject({ group_by: "day", from: "2026-09-30", to: "2026-10-01", has_more: false });
    expect(byDay.rows.map((r: any) => [r.key, r.total_tokens, r.cost_micros, r.steps, r.turns, r.tool_calls])).toEqual([
      ["2026-09-30", 100, 10, 1, 1, 0],
      ["2026-10-01", 600, 60, 2, 1, 3],
    ]);
    const byModel = await asOwner(
      accountId,
      "public.get_usage(from_day => '2026-09-01', to_day => '2026-10-31', group_by => 'model')",
    );
    expect(byModel.rows.map((r: any) => [r.key, r.total_tokens, r.cost_micros])).toEqual([
      ["m-2", 600, 60],
      ["m-1", 100, 10],
    ]);
    expect(Object.keys(byModel.rows[0]).sort()).toEqual([
      "cache_read_tokens",
      "cache_write_tokens",
      "cost_micros",
      "input_tokens",
      "key",
      "output_tokens",
      "reasoning_tokens",
      "steps",
      "tool_calls",
      "total_tokens",
      "turns",
      "unpriced_steps",
    ]);
  });

  it("defaults to the current UTC month up to today", async () => {
    const { accountId } = await accountWithHistory();
    const usage = await asOwner(accountId, "public.get_usage()");
    expect(usage).toMatchObject({ from: firstOfMonth(), to: today(), budget: null });
    expect(usage.rows.map((r: any) => [r.key, r.input_tokens])).toEqual([[firstOfMonth(), 5]]);
  });

  it("by session and by chat: the all-time totals, most expensive first, page_size at most", async () => {
    const { accountId, first, second } = await accountWithHistory();
    const byChat = await asOwner(accountId, "public.get_usage(group_by => 'chat')");
    expect(byChat).toMatchObject({ group_by: "chat", from: null, to: null, has_more: false });
    expect(byChat.rows.map((r: any) => [r.key, r.cost_micros, r.total_tokens])).toEqual([
      [second.chatId, 40, 405],
      [first.chatId, 30, 300],
    ]);
    await setBudget(accountId, { limit_cost_micros: 10 ** 6 });
    const page = await asOwner(accountId, "public.get_usage(group_by => 'session', page_size => 1)");
    expect(page.budget).toMatchObject({ limit_cost_micros: 10 ** 6, exceeded: false });
    expect(page.rows.map((r: any) => r.key)).toEqual([second.sessionId]);
    expect(page.has_more).toBe(true);
  });

  it("users read only their own; the service role must name the account; bad arguments are PT400", async () => {
    const { accountId } = await accountWithHistory();
    const stranger = await makeAccount(sql);
    expect((await asOwner(stranger, "public.get_usage(from_day => '2026-01-01')")).rows).toEqual([]);
    expect((await failure(asOwner(stranger, "public.get_usage($1)", accountId)))?.code).toBe("PT403");
    expect((await failure(asService("public.get_usage()")))?.code).toBe("PT400");
    const forService = await asService("public.get_usage($1, '2026-09-01', '2026-10-31', 'model')", accountId);
    expect(forService.rows.length).toBe(2);
    expect(await failure(asOwner(accountId, "public.get_usage(group_by => 'week')"))).toMatchObject({
      code: "PT400",
      detail: "invalid_group_by",
    });
    expect(await failure(asOwner(accountId, "public.get_usage(from_day => '2026-10-02', to_day => '2026-10-01')")))
      .toMatchObject({ code: "PT400", detail: "invalid_range" });
  });

  it("list_chats and get_messages show each chat's totals (null before its first step)", async () => {
    const { accountId, first } = await accountWithHistory();
    const idle = await ownedChat(sql, { ...usageChat, accountId: accountId });
    const { chats } = await asOwner(accountId, "public.list_chats()");
    const usageOf = Object.fromEntries(chats.map((c: any) => [c.id, c.usage]));
    expect(usageOf[first.chatId]).toMatchObject({ cost_micros: 30, total_tokens: 300, steps: 2, turns: 1 });
    expect(usageOf[idle.chatId]).toBeNull();
    const page = await asOwner(accountId, "public.get_messages($1)", first.chatId);
    expect(page.chat.usage).toEqual(usageOf[first.chatId]);
    expect(page.chat).toMatchObject({ status: "idle", revision: 0, has_unread: false });
  });
});
