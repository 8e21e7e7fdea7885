// npm run bench:purge: how fast retention deletes, and what it costs the writers that keep going.
// On a throwaway stack of its own: seeds PURGE_BENCH_CHATS (100,000) chats archived 40 days ago,
// each with messages, a read marker, a run with two steps, a queued message, two pinned context
// resources and usage totals, in sessions with live context and usage totals of their own; then
// appends to other chats over HTTP (PURGE_BENCH_WRITERS writers, one chat each, back to back) while
// public.purge_archived runs in
// batches of PURGE_BENCH_BATCH (1000) until it says there is no more, in phases of
// PURGE_BENCH_PHASE_SECONDS (3) alternating with quiet phases as long. Prints rows deleted per second
// of purging, the batches' durations (how long each held its locks) and the writers' latency with and
// without a purge running. docs/performance.md ("Retention") has the method and figures.
import { randomUUID } from "node:crypto";
import os from "node:os";
import { userJwt } from "../scripts/local-stack/config.ts";
import { throwawayStack } from "../scripts/local-stack/throwaway.ts";
import { sleep } from "./client.ts";
import { percentiles } from "./tools.ts";

const chats = Number(process.env.PURGE_BENCH_CHATS ?? 100_000);
const writers = Number(process.env.PURGE_BENCH_WRITERS ?? 4);
const batchSize = Number(process.env.PURGE_BENCH_BATCH ?? 1000);
const phaseSeconds = Number(process.env.PURGE_BENCH_PHASE_SECONDS ?? 3);
/** A pause after each batch (npm run purge's --pause-ms): trades purge speed for the writers' latency. */
const pauseMs = Number(process.env.PURGE_BENCH_PAUSE_MS ?? 0);
const chatsPerSession = 100;
/** Every table the seed writes, and which of its rows are the seed's (the writers add rows too). */
const seedRows: Record<string, string> = {
  sessions: "id like 'pb-s%'",
  session_context_resources: "session_id like 'pb-s%'",
  chats: "id like 'pb-c%'",
  chat_messages: "chat_id like 'pb-c%'",
  chat_reads: "chat_id like 'pb-c%'",
  workflow_runs: "chat_id like 'pb-c%'",
  workflow_run_steps: "workflow_run_id like 'pb-r%'",
  chat_queued_messages: "chat_id like 'pb-c%'",
  chat_context_resources: "chat_id like 'pb-c%'",
  workflow_run_usage: "workflow_run_id like 'pb-r%'",
  chat_usage: "chat_id like 'pb-c%'",
  session_usage: "session_id like 'pb-s%'",
};

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const round = (value: number) => Math.round(value * 10) / 10;

log("starting a throwaway stack ...");
const stack = await throwawayStack({}, { keepLogs: false });
const { sql } = stack;
try {
  // The doomed: written in bulk with triggers off (seq, revision and hashes given here), so the seed
  // takes a minute rather than an hour. Every table that points at chats or sessions gets rows.
  log(`seeding ${chats} archived chats with their children ...`);
  const seedStarted = performance.now();
  const owner = randomUUID();
  const sessions = Math.ceil(chats / chatsPerSession);
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into accounts (id) values (${owner})`;
    await tx`
      insert into sessions (id, account_id, title, created_at, updated_at)
      select 'pb-s' || s, ${owner}, 'purge bench', now() - interval '50 days', now() - interval '40 days'
        from generate_series(1, ${sessions}) s`;
    await tx`
      insert into session_context_resources (session_id, source, kind, body, content_hash, size_bytes, updated_at)
      select 'pb-s' || s, r.source, r.kind, r.body, encode(sha256(convert_to(r.body, 'UTF8')), 'hex'),
             octet_length(r.body), now() - interval '40 days'
        from generate_series(1, ${sessions}) s,
             (values ('AGENTS.md', 'instructions', repeat('Run the tests. ', 40)),
                     ('.agents/skills/x/SKILL.md', 'skill', repeat('A skill. ', 60))) r(source, kind, body)`;
    await tx`
      insert into session_usage (session_id, account_id, steps, turns, total_tokens)
      select 'pb-s' || s, ${owner}, 200, 100, 120000 from generate_series(1, ${sessions}) s`;
  });
  // In slices of 10,000 chats: one long transaction would only make the seed slower.
  for (let first = 1; first <= chats; first += 10_000) {
    const last = Math.min(chats, first + 9_999);
    await sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`
        insert into chats (id, session_id, account_id, title, archived_at, created_at, updated_at, last_message_seq,
                           revision)
        select 'pb-c' || c, 'pb-s' || ((c - 1) / ${chatsPerSession} + 1), ${owner}, 'archived chat ' || c,
               now() - interval '40 days', now() - interval '45 days', now() - interval '40 days', 4, 4
          from generate_series(${first}::int, ${last}::int) c`;
      await tx`
        insert into chat_messages (id, chat_id, role, parts, seq, revision, created_at, updated_at)
        select 'pb-m' || c || '-' || m, 'pb-c' || c, r.role,
               jsonb_build_object('id', 'pb-m' || c || '-' || m, 'role', r.role,
                                  'parts', jsonb_build_array(jsonb_build_object('type', 'text', 'text', repeat('word ', 40)))),
               m, m, now() - interval '45 days', now() - interval '45 days'
          from generate_series(${first}::int, ${last}::int) c, generate_series(1, 4) m,
               lateral (select case when m % 2 = 1 then 'user' else 'assistant' end as role) r`;
      await tx`
        insert into chat_reads (account_id, chat_id, last_read_at)
        select ${owner}, 'pb-c' || c, now() - interval '41 days' from generate_series(${first}::int, ${last}::int) c`;
      await tx`
        insert into workflow_runs (id, chat_id, status, started_at, finished_at, total_duration_ms)
        select 'pb-r' || c, 'pb-c' || c, 'completed', now() - interval '45 days',
               now() - interval '45 days' + interval '3 seconds', 3000
          from generate_series(${first}::int, ${last}::int) c`;
      await tx`
        insert into workflow_run_steps (workflow_run_id, step_number, started_at, finished_at, duration_ms)
        select 'pb-r' || c, n, now() - interval '45 days', now() - interval '45 days' + interval '1 second', 1000
          from generate_series(${first}::int, ${last}::int) c, generate_series(1, 2) n`;
      await tx`
        insert into workflow_run_usage (workflow_run_id, account_id, steps, turns, total_tokens)
        select 'pb-r' || c, ${owner}, 2, 1, 1200 from generate_series(${first}::int, ${last}::int) c`;
      await tx`
        insert into chat_usage (chat_id, account_id, steps, turns, total_tokens)
        select 'pb-c' || c, ${owner}, 2, 1, 1200 from generate_series(${first}::int, ${last}::int) c`;
      await tx`
        insert into chat_queued_messages (id, chat_id, message, position)
        select 'pb-q' || c, 'pb-c' || c,
               jsonb_build_object('id', 'pb-q' || c, 'role', 'user', 'parts', jsonb_build_array()), 1
          from generate_series(${first}::int, ${last}::int) c`;
      await tx`
        insert into chat_context_resources (chat_id, source, kind, body, content_hash, size_bytes, pinned_at)
        select 'pb-c' || c, l.source, l.kind, l.body, l.content_hash, l.size_bytes, now() - interval '45 days'
          from generate_series(${first}::int, ${last}::int) c
          join session_context_resources l on l.session_id = 'pb-s' || ((c - 1) / ${chatsPerSession} + 1)`;
    });
  }
  await sql`vacuum analyze`;
  const counts = async () => {
    const [row] = await sql.unsafe(
      `select ${
        Object.entries(seedRows).map(([table, where]) =>
          `(select count(*) from ${table} where ${where})::int as ${table}`
        )
          .join(", ")
      }`,
    );
    return row as Record<string, number>;
  };
  const seeded = await counts();
  const seededRows = Object.values(seeded).reduce((a, b) => a + b, 0);
  log(`seeded ${seededRows.toLocaleString("en")} rows in ${Math.round((performance.now() - seedStarted) / 1000)} s`);

  // The writers: an account of their own with one live chat each, appending user messages.
  const writer = randomUUID();
  await sql`insert into accounts (id) values (${writer})`;
  // A session each: appends to chats of one session queue on that session's row (its updated_at).
  await sql`insert into sessions (id, account_id, title)
            select 'pb-live-' || i, ${writer}, 'live' from generate_series(1, ${writers}) i`;
  await sql`insert into chats (id, session_id) select 'pb-live-' || i, 'pb-live-' || i from generate_series(1, ${writers}) i`;
  const token = await userJwt(writer, 3600);
  // Every request is timed and tagged with whether a purge batch was running when it started.
  let purging = false, stopped = false;
  const samples: { ms: number; purging: boolean; ok: boolean }[] = [];
  const write = async (i: number) => {
    while (!stopped) {
      const during = purging, started = performance.now();
      const response = await fetch(`${stack.apiUrl}/functions/v1/append-message`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({
          chat_id: `pb-live-${i}`,
          message: { id: `pb-w${i}-${randomUUID()}`, role: "user", parts: [{ type: "text", text: "still here" }] },
        }),
      });
      await response.arrayBuffer();
      samples.push({ ms: performance.now() - started, purging: during, ok: response.status === 201 });
    }
  };

  // Whether any backend ever waits on a lock the purge holds: the writers must not (they do queue
  // behind each other at commit for NOTIFY, which has nothing to do with the purge).
  const purgePids = new Set<number>();
  const lockWaits = { samples: 0, blockedByPurge: 0 };
  const watchLocks = async () => {
    while (!stopped) {
      if (purging && purgePids.size) {
        const [{ n }] = await sql`
          select count(*)::int as n from pg_stat_activity a
           where a.wait_event_type = 'Lock' and pg_blocking_pids(a.pid) && ${[...purgePids]}::int[]`;
        lockWaits.samples++;
        if (n > 0) lockWaits.blockedByPurge++;
      }
      await sleep(50);
    }
  };

  // The machine is shared, so its background load drifts: purge phases alternate with quiet phases
  // of the same length (the writers never stop), and each latency figure compares like with like.
  log(
    `${writers} writers appending; purging in batches of ${batchSize}, ${phaseSeconds} s on, ${phaseSeconds} s off ...`,
  );
  const writing = Promise.all([...Array.from({ length: writers }, (_, i) => write(i + 1)), watchLocks()]);
  await sleep(phaseSeconds * 1000);
  const batches: { ms: number; chats: number; sessions: number }[] = [];
  let purgeMs = 0;
  for (let more = true; more;) {
    purging = true;
    const phaseStarted = performance.now();
    while (more && performance.now() - phaseStarted < phaseSeconds * 1000) {
      const started = performance.now();
      const result = await sql.begin(async (tx) => {
        await tx`select set_config('role', 'service_role', true),
                        set_config('request.jwt.claims', '{"role": "service_role"}', true)`;
        const [{ r, pid }] = await tx`
          select public.purge_archived('30 days', ${batchSize}) as r, pg_backend_pid() as pid`;
        purgePids.add(pid);
        return r as { chats: number; sessions: number; more: boolean };
      });
      batches.push({ ms: performance.now() - started, chats: result.chats, sessions: result.sessions });
      more = result.more;
      if (pauseMs) await sleep(pauseMs);
    }
    purgeMs += performance.now() - phaseStarted;
    purging = false;
    await sleep(phaseSeconds * 1000);
  }
  stopped = true;
  await writing;
  const purgeSeconds = purgeMs / 1000;
  const latencies = (during: boolean) => samples.filter((sample) => sample.purging === during);

  const left = await counts();
  const deleted = Object.fromEntries(Object.keys(seedRows).map((table) => [table, seeded[table] - left[table]]));
  const deletedRows = Object.values(deleted).reduce((a, b) => a + b, 0);

  const result = {
    machine: { cpus: os.cpus().length, loadAverage: os.loadavg().map(round) },
    seeded,
    seededRows,
    deleted,
    deletedRows,
    left,
    purge: {
      batchSize,
      pauseMs,
      seconds: round(purgeSeconds),
      batches: batches.length,
      chats: batches.reduce((a, b) => a + b.chats, 0),
      sessions: batches.reduce((a, b) => a + b.sessions, 0),
      rowsPerSecond: Math.round(deletedRows / purgeSeconds),
      chatsPerSecond: Math.round(chats / purgeSeconds),
      batchMs: percentiles(batches.filter((b) => b.chats > 0).map((b) => b.ms)),
    },
    lockWaits,
    append: {
      writers,
      quiet: {
        ...percentiles(latencies(false).map((x) => x.ms)),
        errors: latencies(false).filter((x) => !x.ok).length,
      },
      duringPurge: {
        ...percentiles(latencies(true).map((x) => x.ms)),
        errors: latencies(true).filter((x) => !x.ok).length,
      },
    },
  };
  console.log(JSON.stringify(result, null, 2));
  log(
    `purged ${result.purge.chats} chats and ${result.purge.sessions} sessions, ${
      deletedRows.toLocaleString("en")
    } rows ` +
      `in ${result.purge.seconds} s: ${result.purge.rowsPerSecond.toLocaleString("en")} rows/s; batches p50 ` +
      `${result.purge.batchMs.p50} ms, p99 ${result.purge.batchMs.p99} ms, max ${result.purge.batchMs.max} ms`,
  );
  log(
    `append-message p50/p99/max: no purge running ${result.append.quiet.p50}/${result.append.quiet.p99}/` +
      `${result.append.quiet.max} ms, during the purge ${result.append.duringPurge.p50}/` +
      `${result.append.duringPurge.p99}/${result.append.duringPurge.max} ms (target p99 < 25 ms)`,
  );
} finally {
  await stack.stop();
}
