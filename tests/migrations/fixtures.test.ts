// Migrations meet real data before they meet production (Coder's migration fixtures): the migrations
// are applied one by one to a fresh database, and after each one the rows of
// tests/migrations/fixtures/<migration>.sql go in. A later migration's backfill, new constraint or
// changed policy that fails on rows like these fails here, not on a live database. Every migration
// has a fixture, so each one is applied on top of data the previous ones made.
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  connect,
  listMigrations,
  type Migration,
  prepareDatabase,
  recreateDatabase,
  type Sql,
} from "../../scripts/local-stack/database.ts";
import { asUser } from "../support/db.ts";
import { totalsAndRecomputation, usageTables } from "../support/usage.ts";

const fixturesDir = path.join(import.meta.dirname, "fixtures");
const fixtureOf = (migration: Migration) => path.join(fixturesDir, `${migration.version}_${migration.name}.sql`);

const url = Object.assign(new URL(inject("clusterUrl")), { pathname: `/fixtures_${process.pid}` }).toString();
const sql = connect(url);
afterAll(async () => {
  await sql.end();
  const admin = connect(inject("clusterUrl"));
  await admin`drop database if exists ${admin(new URL(url).pathname.slice(1))} with (force)`;
  await admin.end();
});

it("every migration has a fixture, and every fixture a migration", async () => {
  const migrations = await listMigrations();
  expect(migrations.filter((m) => !existsSync(fixtureOf(m))).map((m) => path.basename(m.file)), "missing fixtures")
    .toEqual([]);
  const names = new Set(migrations.map((m) => path.basename(fixtureOf(m))));
  expect(readdirSync(fixturesDir).filter((f) => !names.has(f)), "fixtures without a migration").toEqual([]);
});

describe("the migrations applied one by one, each followed by its fixture", () => {
  const loaded: string[] = [];
  const insertFixture = async (tx: Sql, migration: Migration) => {
    if (!existsSync(fixtureOf(migration))) return;
    await tx.unsafe(await readFile(fixtureOf(migration), "utf8")).simple().catch((error) => {
      throw new Error(`fixture ${path.basename(fixtureOf(migration))} failed: ${error.message}`, { cause: error });
    });
    loaded.push(migration.version);
  };

  it("applies every migration and loads every fixture", async () => {
    await recreateDatabase(url);
    const prepared = await prepareDatabase(url, { afterMigration: insertFixture });
    const migrations = await listMigrations();
    expect(prepared.migrated).toEqual(migrations.map((m) => path.basename(m.file)));
    expect(loaded).toEqual(migrations.map((m) => m.version));
  });

  it("every fixture row is still there", async () => {
    const [counts] = await sql`
      select (select count(*) from accounts)::int as accounts, (select count(*) from sessions)::int as sessions,
             (select count(*) from chats)::int as chats, (select count(*) from chat_messages)::int as messages,
             (select count(*) from chat_reads)::int as reads, (select count(*) from workflow_runs)::int as runs,
             (select count(*) from workflow_run_steps)::int as steps,
             (select count(*) from chat_queued_messages)::int as queued,
             (select count(*) from chat_history_cuts)::int as cuts, (select count(*) from chat_cut_messages)::int as cut`;
    expect(counts).toEqual({
      accounts: 5,
      sessions: 6,
      chats: 14,
      messages: 35,
      reads: 9,
      runs: 15,
      steps: 12,
      queued: 3,
      cuts: 2,
      cut: 2,
    });
  });

  it("conversation control: the edited branch is kept and readable, the visible history gapless, the queue reordered", async () => {
    const bob = "b0b00000-0000-4000-8000-000000000002";
    const read = (version: number | null) =>
      asUser(
        sql,
        bob,
        async (tx) =>
          (await tx`select public.get_messages('fx-chat-bob-3', history_version => ${version}::int) as page`)[0].page,
      );
    const ids = (page: { messages: { id: string; seq: number; written_by: string }[] }) =>
      page.messages.map((m) => `${m.seq}:${m.id}:${m.written_by}`);
    const now = await read(null);
    expect(now.history_version).toBe(2);
    expect(ids(now)).toEqual(["1:fx-msg-bob-3-1:owner", "2:fx-msg-bob-3-2:backend", "3:fx-msg-bob-3-cc1:owner"]);
    expect(now.messages[2].message.parts[0].text).toBe("Stop: use port 4000 instead");
    expect(now.queued.map((q: { id: string; position: number }) => `${q.position}:${q.id}`)).toEqual([
      "1:fx-msg-bob-3-cc4",
    ]);
    const first = await read(0);
    expect(ids(first)).toEqual([
      "1:fx-msg-bob-3-1:owner",
      "2:fx-msg-bob-3-2:backend",
      "3:fx-msg-bob-3-cc1:owner",
      "4:fx-msg-bob-3-cc2:backend",
    ]);
    expect(first.messages[2].message.parts[0].text).toBe("Stop: use port 3000 instead");
    expect(first.messages[3].message.parts[1]).toMatchObject({
      state: "approval-responded",
      approval: { id: "approval-1", approved: true },
    });
    expect(ids(await read(1))).toEqual(ids(now));
  });

  it("every chat carries its session's account, backfilled or set on insert", async () => {
    const wrong = await sql`
      select c.id from chats c join sessions s on s.id = c.session_id where c.account_id <> s.account_id`;
    expect(wrong).toEqual([]);
    const [alice] = await sql`select account_id from chats where id = 'fx-chat-alice-list'`;
    expect(alice.account_id).toBe("a11ce000-0000-4000-8000-000000000001");
  });

  it("every chat's messages are numbered 1..n in order, and its counter is at n", async () => {
    const broken = await sql`
      select c.id, c.last_message_seq, array_agg(m.seq order by m.seq) filter (where m.seq is not null) as seqs
        from chats c left join chat_messages m on m.chat_id = c.id
       group by c.id
      having c.last_message_seq <> count(m.id)
          or coalesce(array_agg(m.seq order by m.seq) filter (where m.seq is not null), '{}')
             <> array(select generate_series(1, count(m.id)::int)::bigint)`;
    expect(broken).toEqual([]);
  });

  it("durations, titles and leases the migrations and operations wrote are as expected", async () => {
    const runs = await sql`
      select id, status, total_duration_ms::text from workflow_runs
       where id in ('fx-run-alice-1', 'fx-run-carol-month', 'fx-run-erin-1') order by id`;
    expect(runs).toEqual([
      { id: "fx-run-alice-1", status: "completed", total_duration_ms: "5400" },
      { id: "fx-run-carol-month", status: "completed", total_duration_ms: "2592000250" },
      { id: "fx-run-erin-1", status: "completed", total_duration_ms: "62000" },
    ]);
    const chats = await sql`
      select id, title, active_stream_id from chats where id in ('fx-chat-bob-1', 'fx-chat-erin-1') order by id`;
    expect(chats).toEqual([
      { id: "fx-chat-bob-1", title: "Upgrade to React 19 and fix the type errors", active_stream_id: null },
      { id: "fx-chat-erin-1", title: "terraform plan shows drift on the S3 buckets; fix it", active_stream_id: null },
    ]);
  });

  it("a pinned chat keeps its context after the live view changed, and an archived chat leaves the list", async () => {
    const alice = "a11ce000-0000-4000-8000-000000000001", bob = "b0b00000-0000-4000-8000-000000000002";
    const [{ context }] = await asUser(sql, alice, (tx) => tx`select public.get_context('fx-chat-alice-1') as context`);
    expect(context.resources.map((r: { source: string }) => r.source)).toEqual([
      ".agents/skills/openapi/SKILL.md",
      "AGENTS.md",
      "docs/pagination.md",
    ]);
    expect(context.changed).toEqual({ updated: ["AGENTS.md"], added: [], removed: ["docs/pagination.md"] });
    const listed = await asUser(sql, bob, async (tx) => ({
      shown: (await tx`select public.list_chats() as page`)[0].page.chats.map((c: { id: string }) => c.id).sort(),
      all: (await tx`select public.list_chats(include_archived => true) as page`)[0].page.chats.length,
    }));
    expect(listed).toEqual({ shown: ["fx-chat-bob-2", "fx-chat-bob-3", "fx-chat-bob-leaner"], all: 4 });
    // Every read returns the chat with both the usage and the archive fields.
    const [{ page }] = await asUser(sql, alice, (tx) => tx`select public.list_chats(page_size => 1) as page`);
    expect(page.chats[0]).toHaveProperty("usage");
    expect(page.chats[0]).toHaveProperty("archived_at", null);
  });

  it("usage totals, backfilled by their migration and maintained since, equal a recomputation from the steps", async () => {
    for (const table of usageTables) {
      const { maintained, recomputed } = await totalsAndRecomputation(sql, table);
      expect(maintained, table).toEqual(recomputed);
    }
    // Alice's logged turn: three steps (the retried step 1 counted once), one of them unpriced.
    const [run] = await sql`
      select cost_micros::int, total_tokens::int, steps::int, unpriced_steps::int, turns::int
        from workflow_run_usage where workflow_run_id = 'fx-run-alice-usage'`;
    expect(run).toEqual({ cost_micros: 16480, total_tokens: 29370, steps: 3, unpriced_steps: 1, turns: 1 });
    // Carol's 30-day turn was logged before usage existed: backfilled as one unpriced step, one turn.
    const [carol] = await sql`
      select steps::int, unpriced_steps::int, turns::int from workflow_run_usage where workflow_run_id = 'fx-run-carol-month'`;
    expect(carol).toEqual({ steps: 1, unpriced_steps: 1, turns: 1 });
  });

  it("an append to a fixture chat gets the chat's next seq, and users still see only their own rows", async () => {
    const [{ result }] = await asUser(
      sql,
      "a11ce000-0000-4000-8000-000000000001",
      (tx) =>
        tx`select public.append_message('fx-chat-alice-1', ${
          tx.json({ id: "fx-msg-alice-1-5", role: "user", parts: [{ type: "text", text: "Ship it." }] })
        }) as result`,
    );
    expect(result).toMatchObject({ created: true, message: { id: "fx-msg-alice-1-5", seq: 5 } });

    const seen = await asUser(sql, "da7e0000-0000-4000-8000-000000000004", async (tx) => ({
      chats: (await tx`select id from chats order by id`).map((r) => r.id),
      messages: (await tx`select count(*)::int as n from chat_messages`)[0].n,
      runs: (await tx`select count(*)::int as n from workflow_runs`)[0].n,
    }));
    expect(seen).toEqual({ chats: ["fx-chat-dave-1", "fx-chat-dave-2"], messages: 5, runs: 0 });
  });

  it("revisions: backfilled by seq, then one per message change, never behind a chat's messages", async () => {
    const behind = await sql`
      select c.id from chats c join chat_messages m on m.chat_id = c.id
       group by c.id having max(m.revision) > min(c.revision) or count(distinct m.revision) <> count(*)`;
    expect(behind).toEqual([]);
    const [alice] = await sql`
      select array_agg(m.revision::int order by m.seq) as revisions from chat_messages m
       where m.chat_id = 'fx-chat-alice-1' and m.seq <= 4`;
    expect(alice.revisions).toEqual([1, 2, 3, 4]);
    const [dave] = await sql`select revision::int from chats where id = 'fx-chat-dave-2'`;
    const daveMessages = await sql`
      select id, revision::int from chat_messages where id like 'fx-msg-dave-2-rf_' order by id`;
    // The reply's rewrite took a revision after the question's; the read marker took the last one.
    expect(daveMessages[1].revision).toBeGreaterThan(daveMessages[0].revision);
    expect(dave.revision).toBe(daveMessages[1].revision + 1);
  });

  it("run control: a stream active before it became a stale lease; every status is reachable and consistent", async () => {
    const chats = await sql`
      select id, status, runner_id, last_error, (select count(*)::int from chat_queued_messages q where q.chat_id = c.id) as queued
        from chats c where id in ('fx-chat-erin-2', 'fx-chat-alice-3', 'fx-chat-bob-2', 'fx-chat-carol-2') order by id`;
    expect(chats).toEqual([
      { id: "fx-chat-alice-3", status: "stopping", runner_id: "fx-worker-1", last_error: null, queued: 2 },
      { id: "fx-chat-bob-2", status: "running", runner_id: "fx-worker-3", last_error: null, queued: 0 },
      { id: "fx-chat-carol-2", status: "error", runner_id: null, last_error: "turn failed", queued: 0 },
      { id: "fx-chat-erin-2", status: "running", runner_id: "unknown", last_error: null, queued: 0 },
    ]);
    // The first claim recovers the stale lease: its run fails and the chat is pending again.
    await sql.begin(async (tx) => {
      await tx`select set_config('role', 'service_role', true)`;
      await tx`select public.recover_stale_chats('0 seconds')`;
    });
    const [erin] = await sql`select status, last_error from chats where id = 'fx-chat-erin-2'`;
    expect(erin).toEqual({ status: "pending", last_error: "lease expired" });
    const [run] = await sql`select status from workflow_runs where id = 'fx-run-erin-streaming'`;
    expect(run.status).toBe("failed");
  });

  it("live streams: a finished turn's stream was closed by end_turn; a stale turn's stream is closed by its recovery", async () => {
    const streams = await sql`
      select s.message_id, s.next_index, s.closed_at is not null as closed,
             (select jsonb_agg(e.chunk order by k.from_index, e.n) from chat_stream_chunks k
                cross join jsonb_array_elements(k.chunks) with ordinality e(chunk, n)
               where k.message_id = s.message_id) as chunks
        from chat_streams s where s.chat_id = 'fx-chat-bob-2' order by s.opened_revision`;
    expect(streams.map((s) => [s.message_id, s.next_index, s.closed])).toEqual([
      ["fx-msg-bob-2-ls1", 8, true],
      // Two more batches (20261206130000's fixture), then recovered by the test above (its lease was 0
      // seconds old): an error, then abort.
      ["fx-msg-bob-2-ls3", 7, true],
    ]);
    expect(streams[0].chunks[4]).toEqual({ type: "text-delta", id: "t", delta: 'builds "fine" \\o/' });
    expect(streams[0].chunks.at(-1)).toEqual({ type: "finish" });
    expect(streams[1].chunks.slice(3).map((c: { type: string }) => c.type)).toEqual([
      "reasoning-delta",
      "reasoning-delta",
      "error",
      "abort",
    ]);
  });
  it("leaner chat triggers: a new chat written to and renamed took its revisions and moved its session", async () => {
    const [chat] = await sql`
      select c.title, c.status, c.revision::int, c.last_message_seq::int, s.updated_at >= c.updated_at as session_moved
        from chats c join sessions s on s.id = c.session_id where c.id = 'fx-chat-bob-leaner'`;
    // Created (revision 0), then the message (1); the rename, in the fixture's transaction, shares it.
    expect(chat).toEqual({
      title: "Drop the polyfills",
      status: "pending",
      revision: 1,
      last_message_seq: 1,
      session_moved: true,
    });
  });
});
