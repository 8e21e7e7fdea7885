// Workload 8: run control over HTTP with the service role.
// Claim throughput: W workers, each calling claim-chats (limit 1) in a loop until it answers with
// nothing, drain 500 pending chats. The claims are not finished (no log-workflow-step): the figure is
// claim_chats alone (its stale-recovery pass, the SKIP LOCKED pick, the run it opens, the chat's new
// revision). A full turn adds one log-workflow-step call with `finish`.
// Time to first claim: a worker LISTENs on chat_work (as examples/agent-worker does) and calls
// claim-chats with the notified chat_id at once; a user message is appended to an idle chat, and the
// time runs from append-message returning to that claim returning.
import postgres from "postgres";
import { apiKeys } from "../scripts/local-stack/config.ts";
import type { Bench } from "./append.ts";
import { makeChats, settleChats } from "./append.ts";
import { call, now, sleep, textMessage } from "./client.ts";
import { median, medianPercentiles, type Percentiles, percentiles } from "./tools.ts";

interface Claims {
  claims: { chat: { id: string } }[];
}

export interface ClaimRun {
  workers: number;
  chats: number;
  claimsPerSecond: number;
  /** One claim-chats call that claimed a chat, as a worker saw it. */
  latency: Percentiles;
  /** Every chat was claimed exactly once, and no other. */
  exactlyOnce: boolean;
}

export async function claimThroughput(bench: Bench, workers: number, label: string, chats = 500): Promise<ClaimRun> {
  const { serviceRoleKey } = await apiKeys();
  const prefix = `claim-${label}-`;
  await settleChats(bench.sql); // only this run's chats are pending
  await makeChats(bench.sql, prefix, chats);
  await bench
    .sql`update chats set status = 'pending', status_changed_at = now() where session_id = ${`${prefix}session`}`;

  const claimed: string[] = [], latencies: number[] = [];
  let lastClaim = 0;
  const started = now();
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    for (;;) {
      const sent = now();
      const { claims } = await call<Claims>(bench.apiUrl, "claim-chats", serviceRoleKey, {
        runner_id: `bench-${label}-w${w}`,
        limit: 1,
      });
      if (claims.length === 0) return;
      lastClaim = now();
      latencies.push(lastClaim - sent);
      claimed.push(...claims.map((c) => c.chat.id));
    }
  }));
  await settleChats(bench.sql, `${prefix}session`);
  return {
    workers,
    chats,
    claimsPerSecond: Math.round(claimed.length / ((lastClaim - started) / 1000)),
    latency: percentiles(latencies),
    exactlyOnce: claimed.length === chats && new Set(claimed).size === chats &&
      claimed.every((id) => id.startsWith(prefix)),
  };
}

/** One configuration's rounds as one row. */
export const claimMedian = (runs: ClaimRun[]): ClaimRun => ({
  workers: runs[0].workers,
  chats: runs[0].chats,
  claimsPerSecond: median(runs.map((r) => r.claimsPerSecond)),
  latency: medianPercentiles(runs.map((r) => r.latency)),
  exactlyOnce: runs.every((r) => r.exactlyOnce),
});

export interface FirstClaim {
  samples: number;
  /** From append-message returning to the notified worker's claim returning. */
  latency: Percentiles;
  /** Notifications that led to no claim within 5 s. */
  missed: number;
}

export async function timeToFirstClaim(bench: Bench, samples: number): Promise<FirstClaim> {
  const { serviceRoleKey } = await apiKeys();
  const prefix = "notify-";
  const owner = await makeChats(bench.sql, prefix, samples);
  const waiting = new Map<string, (at: number) => void>();
  const listener = postgres(bench.databaseUrl, { max: 1, onnotice: () => {} });
  await listener.listen("chat_work", (chatId) => {
    const done = waiting.get(chatId);
    if (!done) return;
    void call<Claims>(bench.apiUrl, "claim-chats", serviceRoleKey, {
      runner_id: "bench-notified",
      limit: 1,
      chat_ids: [chatId],
    }).then(({ claims }) => claims.length && done(now()));
  });
  const latencies: number[] = [];
  let missed = 0;
  try {
    for (let i = 0; i < samples; i++) {
      const chatId = `${prefix}${i}`;
      const claimedAt = new Promise<number | undefined>((resolve) => {
        waiting.set(chatId, resolve);
        setTimeout(() => resolve(undefined), 5000);
      });
      await call(bench.apiUrl, "append-message", owner.token, {
        chat_id: chatId,
        message: textMessage(`${prefix}m${i}`, "user", "please start"),
      });
      const answered = now();
      const at = await claimedAt;
      waiting.delete(chatId);
      if (at === undefined) missed++;
      else latencies.push(at - answered);
      await sleep(20);
    }
  } finally {
    await listener.end();
    await settleChats(bench.sql, `${prefix}session`);
  }
  return { samples, latency: percentiles(latencies), missed };
}

export interface RunControlResults {
  claims: ClaimRun[];
  firstClaim: FirstClaim;
}

export function runControlSection(r: RunControlResults): string[] {
  const f = r.firstClaim.latency;
  return [
    "## Run control: claims and the notify path",
    "",
    "Claim throughput: W workers (concurrent loops in one Node process, service role) call claim-chats with " +
    `limit 1 until it answers with nothing, draining ${r.claims[0]?.chats ?? 500} pending chats. Claims are not ` +
    "finished (no log-workflow-step): the figure is claim_chats alone (stale-recovery pass, SKIP LOCKED pick, " +
    "the workflow run it opens, the chat's new revision). Medians of the rounds.",
    "",
    "| workers | claims/s | claim p50 / p95 / p99 ms | each chat claimed exactly once |",
    "| --: | --: | --: | --- |",
    ...r.claims.map((x) =>
      `| ${x.workers} | ${x.claimsPerSecond} | ${x.latency.p50} / ${x.latency.p95} / ${x.latency.p99} | ${
        x.exactlyOnce ? "yes" : "**no**"
      } |`
    ),
    "",
    "Time to first claim: a worker LISTENs on `chat_work` and calls claim-chats with the notified chat_id at once; " +
    `a user message is appended to an idle chat (${r.firstClaim.samples} times, one after another), and the time runs ` +
    `from append-message returning to that claim returning. p50 / p95 / p99: ${f.p50} / ${f.p95} / ${f.p99} ms ` +
    `(max ${f.max} ms; ${r.firstClaim.missed} notifications without a claim). Target p50 < 50 ms: **${
      f.p50 < 50 && r.firstClaim.missed === 0 ? "met" : "not met"
    }**.`,
    "",
  ];
}
