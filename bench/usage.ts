// npm run bench:usage: what recording usage costs log-workflow-step, and how fast the usage read is
// for an account with a year of history. Prints the figures; docs/performance.md ("Usage") keeps them.
//
// 1. log-workflow-step over HTTP at concurrency 16 (wrk, one writer per chat, a new run per request),
//    before usage was recorded (the trigger disabled, no usage in the body) and with usage, for three
//    shapes: one account's chats in one session, one account's 16 sessions, 16 accounts.
// 2. An account with USAGE_BENCH_STEPS steps (10^6) over the last 365 days, recorded through the step
//    trigger like any other; then the usage read by day and by model over the year, by session and by
//    chat, and this month: the SQL text the usage function sends, as role authenticated with RLS
//    (pgbench), and GET /functions/v1/usage (wrk); one client each, p50 / p99.
//
// Settings (environment): BENCH_SECONDS per load run (5), BENCH_ROUNDS (3), USAGE_BENCH_STEPS (1000000).
import { randomUUID } from "node:crypto";
import { callText } from "../functions/_shared/call-text.ts";
import { apiKeys, userJwt } from "../scripts/local-stack/config.ts";
import { throwawayStack } from "../scripts/local-stack/throwaway.ts";
import { makeChats, oneQuery } from "./append.ts";
import { claimsOf } from "./client.ts";
import { ensureTools, type LoadResult, median, pgbench, wrk, wrkGet } from "./tools.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const totalSteps = Number(process.env.USAGE_BENCH_STEPS ?? 1_000_000);
const say = (line: string) => console.log(`[bench:usage] ${line}`);

ensureTools();
say("starting a throwaway stack ...");
const stack = await throwawayStack({}, { keepLogs: false });
const { sql } = stack;
try {
  // ---------------------------------------------------------------------------------------------
  // 1. log-workflow-step without and with usage, concurrency 16
  // ---------------------------------------------------------------------------------------------
  // Who the 16 writers write for, from the most shared usage rows to the least: one account's chats
  // in one session (every step updates the same session and account-day rows), one account's 16
  // sessions (the same account-day rows), 16 accounts (nothing shared). Each shape is measured with
  // the usage trigger disabled and no usage in the body ("before": the project before this feature),
  // and with usage; rounds alternate, so the machine's state is shared fairly.
  const { serviceRoleKey } = await apiKeys();
  const shapes = {
    "one session": (prefix: string) => makeChats(sql, prefix, 16),
    "16 sessions": async (prefix: string) => {
      const { accountId } = await makeChats(sql, `${prefix}x`, 0);
      await sql`
        insert into sessions (id, account_id, title)
        select ${prefix} || 's' || i, ${accountId}, 'benchmark' from generate_series(0, 15) i`;
      await sql`insert into chats (id, session_id) select ${prefix} || i, ${prefix} || 's' || i from generate_series(0, 15) i`;
    },
    "16 accounts": async (prefix: string) => {
      for (let i = 0; i < 16; i++) {
        const accountId = randomUUID();
        await sql`insert into accounts (id) values (${accountId})`;
        await sql`insert into sessions (id, account_id, title) values (${prefix + "s" + i}, ${accountId}, 'benchmark')`;
        await sql`insert into chats (id, session_id) values (${prefix + i}, ${prefix + "s" + i})`;
      }
    },
  };
  type Shape = keyof typeof shapes;
  const trigger = (on: boolean) =>
    sql.unsafe(`alter table workflow_run_steps ${on ? "enable" : "disable"} trigger workflow_run_steps_add_usage`);
  let run = 0;
  const logSteps = async (shape: Shape, withUsage: boolean, duration: number) => {
    const prefix = `b${run++}-`;
    await shapes[shape](prefix);
    await trigger(withUsage);
    const result = await wrk(
      `${stack.apiUrl}/functions/v1/log-workflow-step`,
      {
        operation: withUsage ? "log-step-usage" : "log-step",
        token: serviceRoleKey,
        chatPrefix: prefix,
        shape: "a",
        tag: `${prefix}run`,
      },
      16,
      duration,
    );
    // Requests wrk gave up on at the end may still be in flight: let them finish before the trigger
    // is switched for the next run.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return result;
  };
  say("warming up ...");
  await logSteps("16 accounts", true, 2);
  await logSteps("16 accounts", false, 2);
  const results: Record<string, LoadResult[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const shape of Object.keys(shapes) as Shape[]) {
      for (const withUsage of [false, true]) {
        const name = `${shape}, ${withUsage ? "usage" : "before"}`;
        const result = await logSteps(shape, withUsage, seconds);
        (results[name] ??= []).push(result);
        say(
          `round ${round + 1}, ${name}: ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ` +
            `errors ${result.errors}`,
        );
      }
    }
  }
  await trigger(true);
  // Every step logged with the trigger on was counted once.
  const [{ steps, counted }] = await sql`
    select (select coalesce(sum(steps), 0) from workflow_run_usage)::int as steps,
           (select coalesce(sum(steps), 0) from usage_daily)::int as counted`;
  say(`steps in the run totals: ${steps}, in the daily rollup: ${counted}`);

  // ---------------------------------------------------------------------------------------------
  // 2. The usage read for an account with a year of history
  // ---------------------------------------------------------------------------------------------
  const accountId = randomUUID();
  const chats = Math.max(1, Math.round(totalSteps / 50)), sessions = Math.max(1, Math.round(chats / 10));
  const runs = Math.round(totalSteps / 5);
  say(
    `seeding ${totalSteps.toLocaleString("en")} steps: ${runs.toLocaleString("en")} runs in ` +
      `${chats.toLocaleString("en")} chats of ${sessions.toLocaleString("en")} sessions, over 365 days ...`,
  );
  await sql`insert into accounts (id) values (${accountId})`;
  await sql`
    insert into sessions (id, account_id, title)
    select 'year-s' || i, ${accountId}, 'a session' from generate_series(0, ${sessions - 1}) i`;
  await sql`
    insert into chats (id, session_id, model_id)
    select 'year-c' || i, 'year-s' || (i % ${sessions}), 'anthropic/claude-sonnet-4.5'
      from generate_series(0, ${chats - 1}) i`;
  const started = performance.now();
  const batch = 20_000;
  for (let from = 0; from < runs; from += batch) {
    const to = Math.min(runs, from + batch) - 1;
    await sql.begin(async (tx) => {
      // Run i finishes on day (i mod 365) before today, so every day of the year has usage.
      await tx`
        insert into workflow_runs (id, chat_id, model_id, status, started_at, finished_at, total_duration_ms)
        select 'year-r' || i, 'year-c' || (i % ${chats}), 'anthropic/claude-sonnet-4.5', 'completed',
               t, t + interval '30 seconds', 30000
          from generate_series(${from}::int, ${to}::int) i,
               lateral (select date_trunc('day', now()) - (i % 365) * interval '1 day' + interval '12 hours' as t) at`;
      // Five steps a run: the main agent (1, 4, 5) and a subagent on a smaller model (2, 3).
      await tx`
        insert into workflow_run_steps (
          workflow_run_id, step_number, started_at, finished_at, duration_ms, provider, model_id, agent_type,
          input_tokens, cache_read_tokens, output_tokens, reasoning_tokens, total_tokens, tool_call_count, cost_micros)
        select 'year-r' || i, n, r.started_at + n * interval '5 seconds', r.started_at + (n + 1) * interval '5 seconds',
               5000, 'gateway', case when n in (2, 3) then 'openai/gpt-5-mini' else 'anthropic/claude-sonnet-4.5' end,
               case when n in (2, 3) then 'subagent' else 'main' end,
               12000, 9000, 400, 100, 12400, 1, case when n = 5 then null else 14000 + n end
          from generate_series(${from}::int, ${to}::int) i
          join workflow_runs r on r.id = 'year-r' || i
         cross join generate_series(1, 5) n`;
    });
    const done = (to + 1) * 5;
    say(
      `  ${done.toLocaleString("en")} steps (${Math.round(done / ((performance.now() - started) / 1000))} steps/s ` +
        `through the trigger, in bulk)`,
    );
  }
  await sql`vacuum analyze`;

  const token = await userJwt(accountId, 24 * 3600);
  const today = new Date().toISOString().slice(0, 10);
  const yearAgo = new Date(Date.now() - 364 * 86_400_000).toISOString().slice(0, 10);
  // Each read as the SQL the usage function sends (pgbench) and over HTTP (wrk), one client each.
  const reads: Record<string, Record<string, string>> = {
    "day, 365 days": { from: yearAgo, to: today, group_by: "day" },
    "model, 365 days": { from: yearAgo, to: today, group_by: "model" },
    "session, top 100": { group_by: "session" },
    "chat, top 100": { group_by: "chat" },
    "this month (default)": {},
  };
  for (const [name, query] of Object.entries(reads)) {
    const text = callText({
      role: "authenticated",
      claims: claimsOf(token),
      fn: "get_usage",
      args: { from_day: query.from, to_day: query.to, group_by: query.group_by },
      statementTimeout: "5s",
      lockTimeout: "2s",
      announce: false,
    });
    const direct = await pgbench(stack.databaseUrl, `${oneQuery(text)};\n`, 1, seconds);
    const http = await wrkGet(`${stack.apiUrl}/functions/v1/usage?${new URLSearchParams(query)}`, token, 1, seconds);
    say(
      `usage by ${name}: SQL p50 ${direct.p50} ms, p99 ${direct.p99} ms; HTTP p50 ${http.p50} ms, ` +
        `p99 ${http.p99} ms (${http.rps} req/s, one client, errors ${http.errors})`,
    );
  }

  say("summary (medians of rounds):");
  for (const [operation, list] of Object.entries(results)) {
    say(
      `  log-workflow-step c16, ${operation.padEnd(25)}: ${median(list.map((r) => r.rps))} req/s, ` +
        `p99 ${median(list.map((r) => r.p99))} ms, errors ${list.reduce((sum, r) => sum + r.errors, 0)}`,
    );
  }
} finally {
  await stack.stop();
}
