// Workload 7: following a chat over HTTP (follow-chat, text/event-stream). N followers of one chat
// while a writer appends about 20 changes a second through append-message: a user message, then the
// agent's reply inserted and rewritten twice (as a worker persists it once per step). Each follower
// is client.ts's follower: a streaming fetch parsed with eventsource-parser, as EventSource parses it.
//
// Commit-to-delivery: a message event carries the message's updated_at, set by PostgreSQL in the
// writing transaction; the follower notes when the chunk holding the event arrived. Both clocks are
// this host's, so the difference is the delivery latency, overstated by the writing transaction's
// own duration (updated_at is its start, and the commit waits for its WAL flush). Also reported
// against the moment the commit's notification (pg_notify('chat_changes')) reached a listener of the
// benchmark's own, which is as close to the commit as a client can see it, and against the moment
// append-message returned to the writer (which a follower may beat: the hint is sent at commit).
//
// Then 1,000 idle followers of 100 chats: the function process's resident memory and its database
// connections (one listening connection, whatever the number of followers).
import { readFileSync } from "node:fs";
import postgres from "postgres";
import type { Bench } from "./append.ts";
import { makeChats } from "./append.ts";
import { call, caughtUp, databaseTime, follow, type Follower, now, sleep, textMessage } from "./client.ts";
import { median, medianPercentiles, type Percentiles, percentiles } from "./tools.ts";

export interface FanOutRun {
  followers: number;
  /** Changes the writer made (each takes one revision). */
  writes: number;
  seconds: number;
  /** Events (message and chat) all followers received while the writer wrote, per second. */
  eventsPerSecond: number;
  /** Receipt minus the message's updated_at. */
  commitToDelivery: Percentiles;
  /** Receipt minus the arrival of the revision's notification at the benchmark's own listener. */
  afterNotification: Percentiles;
  /** Receipt minus the moment append-message returned to the writer. */
  afterResponse: Percentiles;
  /** Every follower ended with the database's final state of every message, ids strictly increasing. */
  complete: boolean;
  /** Message revisions a follower got folded into a later one (a rewrite read together with the next). */
  folded: number;
}

export async function fanOut(bench: Bench, count: number, label: string, ratePerSecond = 20): Promise<FanOutRun> {
  const prefix = `fan-${label}-`;
  const owner = await makeChats(bench.sql, prefix, 1);
  const chatId = `${prefix}0`;
  const listener = postgres(bench.databaseUrl, { max: 1, onnotice: () => {} });
  const followers: Follower[] = [];
  try {
    for (let i = 0; i < count; i += 50) {
      const batch = Math.min(50, count - i);
      followers.push(
        ...await Promise.all(Array.from({ length: batch }, () => follow(bench.apiUrl, chatId, owner.token))),
      );
    }
    await Promise.all(followers.map((f) => f.until(caughtUp, 20_000)));
    const backlog = followers.map((f) => f.received.length);

    const notified = new Map<number, number>();
    await listener.listen("chat_changes", (payload) => {
      const hint = JSON.parse(payload) as { chat_id: string; revision: number };
      if (hint.chat_id === chatId) notified.set(hint.revision, now());
    });

    // The writer: a change every 1/rate s on a fixed schedule, so a slow answer does not lower the rate.
    const returned = new Map<number, number>();
    const writes = Math.round(Math.max(3, bench.seconds) * ratePerSecond);
    const started = now();
    let assistantId = "";
    for (let i = 0; i < writes; i++) {
      await sleep(started + (i * 1000) / ratePerSecond - now());
      const step = i % 4;
      if (step === 0) assistantId = `${prefix}a${i}`;
      const message = step === 0
        ? textMessage(`${prefix}u${i}`, "user", `question ${i}`)
        : textMessage(assistantId, "assistant", `answer, step ${step}`);
      const answer = await call<{ message: { revision: number } }>(bench.apiUrl, "append-message", owner.token, {
        chat_id: chatId,
        message,
      });
      returned.set(answer.message.revision, now());
    }
    const [{ revision }] = await bench.sql`select revision::int from chats where id = ${chatId}`;
    await Promise.all(followers.map((f) => f.until((r) => (r.at(-1)?.id ?? 0) >= revision, 15_000)));
    const finished = Math.max(...followers.map((f) => f.received.at(-1)!.at));

    const stored = await bench.sql`select id, revision::int, parts from chat_messages where chat_id = ${chatId}`;
    const final = new Map(stored.map((m) => [m.id as string, JSON.stringify(m.parts)]));
    const fromDatabase: number[] = [], fromNotification: number[] = [], fromResponse: number[] = [];
    let events = 0, folded = 0, complete = true;
    followers.forEach((f, i) => {
      const live = f.received.slice(backlog[i]);
      events += live.length;
      const messages = live.filter((e) => e.event === "message");
      const state = new Map<string, string>();
      let last = 0;
      for (const e of messages) {
        const m = JSON.parse(e.data) as { id: string; revision: number; updated_at: string; message: unknown };
        if (e.id! <= last) complete = false;
        last = e.id!;
        state.set(m.id, JSON.stringify(m.message));
        fromDatabase.push(e.at - databaseTime(m.updated_at));
        const answered = returned.get(m.revision), hinted = notified.get(m.revision);
        if (answered !== undefined) fromResponse.push(e.at - answered);
        if (hinted !== undefined) fromNotification.push(e.at - hinted);
      }
      folded += writes - messages.length;
      if (state.size !== final.size || [...final].some(([id, parts]) => state.get(id) !== parts)) complete = false;
    });
    const seconds = (finished - started) / 1000;
    return {
      followers: count,
      writes,
      seconds: Math.round(seconds * 100) / 100,
      eventsPerSecond: Math.round(events / seconds),
      commitToDelivery: percentiles(fromDatabase),
      afterNotification: percentiles(fromNotification),
      afterResponse: percentiles(fromResponse),
      complete,
      folded,
    };
  } finally {
    followers.forEach((f) => f.close());
    await listener.end();
  }
}

/** One configuration's rounds as one row: medians, and completeness and folds over all rounds. */
export const fanOutMedian = (runs: FanOutRun[]): FanOutRun => ({
  followers: runs[0].followers,
  writes: median(runs.map((r) => r.writes)),
  seconds: median(runs.map((r) => r.seconds)),
  eventsPerSecond: median(runs.map((r) => r.eventsPerSecond)),
  commitToDelivery: medianPercentiles(runs.map((r) => r.commitToDelivery)),
  afterNotification: medianPercentiles(runs.map((r) => r.afterNotification)),
  afterResponse: medianPercentiles(runs.map((r) => r.afterResponse)),
  complete: runs.every((r) => r.complete),
  folded: runs.reduce((sum, r) => sum + r.folded, 0),
});

export interface IdleFollowers {
  followers: number;
  chats: number;
  /** The function process's resident memory before they connected and with all of them connected, MiB. */
  rssBeforeMiB: number;
  rssMiB: number;
  perFollowerKiB: number;
  /** The functions' database connections with them connected: in all, and listening. */
  connections: number;
  listening: number;
}

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);

/** `pid`: the function process (the throwaway stack's gateway). */
export async function idleFollowers(bench: Bench, pid: number, count = 1000, chats = 100): Promise<IdleFollowers> {
  const owner = await makeChats(bench.sql, "idle-", chats);
  await sleep(1000);
  const before = rssKiB(pid);
  const followers: Follower[] = [];
  try {
    for (let i = 0; i < count; i += chats) {
      followers.push(
        ...await Promise.all(
          Array.from(
            { length: Math.min(chats, count - i) },
            (_, c) => follow(bench.apiUrl, `idle-${c}`, owner.token),
          ),
        ),
      );
    }
    const ready = await Promise.all(followers.map((f) => f.until(caughtUp, 30_000)));
    if (!ready.every(Boolean)) throw new Error("not every idle follower received its chat");
    await sleep(2000);
    const rss = rssKiB(pid);
    const [db] = await bench.sql`
      select count(*)::int as connections, count(*) filter (where query ilike 'listen%')::int as listening
        from pg_stat_activity
       where backend_type = 'client backend' and pid <> pg_backend_pid() and usename <> 'postgres'`;
    return {
      followers: count,
      chats,
      rssBeforeMiB: Math.round(before / 102.4) / 10,
      rssMiB: Math.round(rss / 102.4) / 10,
      perFollowerKiB: Math.round((rss - before) / count * 10) / 10,
      connections: db.connections,
      listening: db.listening,
    };
  } finally {
    followers.forEach((f) => f.close());
  }
}

export interface FollowResults {
  fanOut: FanOutRun[];
  idle?: IdleFollowers;
}

export function followSection(r: FollowResults): string[] {
  const target = r.fanOut.find((x) => x.followers === 200) ?? r.fanOut.at(-1);
  const lines = [
    "## Following a chat: fan-out over HTTP",
    "",
    "N followers of one chat (follow-chat, `text/event-stream`, parsed with eventsource-parser) while one writer " +
    "sends about 20 changes a second through append-message: a user message, then the agent's reply inserted and " +
    "rewritten twice. Commit-to-delivery: when the chunk holding a message event reached the follower, minus the " +
    "message's `updated_at` written by PostgreSQL (same host, same clock; includes the writing transaction's own " +
    "duration and its WAL flush). Also against the moment the commit's notification reached a listener of the " +
    "benchmark's own (as close to the commit as a client can see it: what remains is the follow path itself), and " +
    "against the moment append-message returned to the writer, which a follower can beat (negative: the hint is " +
    "sent at commit, before the HTTP answer). Events/s: message and chat events received by all followers together " +
    "while the writer wrote. Medians of the rounds; each round is a new chat.",
    "",
    "| followers | changes written | events/s delivered | from updated_at p50 / p95 / p99 ms | from the notification p50 / p99 ms | from the writer's answer p50 / p99 ms | every follower complete, in order | folded revisions |",
    "| --: | --: | --: | --: | --: | --: | --- | --: |",
    ...r.fanOut.map((x) =>
      `| ${x.followers} | ${x.writes} | ${x.eventsPerSecond} | ${x.commitToDelivery.p50} / ${x.commitToDelivery.p95} / ` +
      `${x.commitToDelivery.p99} | ${x.afterNotification.p50} / ${x.afterNotification.p99} | ${x.afterResponse.p50} / ` +
      `${x.afterResponse.p99} | ${x.complete ? "yes" : "**no**"} | ${x.folded} |`
    ),
    "",
    "Folded: a message revision a follower received as part of a later one (the feed read a rewrite together with " +
    "the next; the follower still ends with every message's final state, as the resume rule promises).",
    "",
  ];
  if (target) {
    lines.push(
      `Target: ${target.followers} followers, commit-to-delivery p99 < 100 ms. Measured from updated_at (the ` +
        `conservative reading): ${target.commitToDelivery.p99} ms: **${
          target.commitToDelivery.p99 < 100 && target.complete ? "met" : "not met"
        }**; from the notification: ${target.afterNotification.p99} ms.`,
      "",
    );
  }
  if (r.idle) {
    const x = r.idle;
    lines.push(
      `Idle: ${x.followers.toLocaleString("en")} followers of ${x.chats} chats held by one function process. ` +
        `Resident memory ${x.rssBeforeMiB} MiB before they connected, ${x.rssMiB} MiB with all connected ` +
        `(${x.perFollowerKiB} KiB per follower); the functions held ${x.connections} database connections, ` +
        `${x.listening} of them listening.`,
      "",
    );
  }
  return lines;
}
