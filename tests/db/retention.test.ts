// Retention at the SQL level: archiving a chat, lists that hide archived chats, and purge_archived,
// which deletes old archived chats and empty idle sessions in batches. Cascade parity: whatever
// table points at a chat or a session (including tables added later) goes with it.
import { describe, expect, it } from "vitest";
import { age, asAnon, failure, rpcOn, type Sql, useTestDatabase } from "../support/db.ts";
import {
  id,
  makeAccount,
  makeChat,
  makeMessage,
  makeRun,
  makeSession,
  makeStep,
  ownedChat,
} from "../support/factories.ts";

const { sql } = await useTestDatabase();
const { asService, asOwner } = rpcOn(sql);

// deno-lint-ignore no-explicit-any -- jsonb results; the assertions check their shape
type Json = Record<string, any>;
const purge = (olderThan = "30 days", batchSize = 1000) =>
  asService("public.purge_archived($1::interval, $2)", olderThan, batchSize);

/** A chat archived 40 days ago and idle since. */
async function oldArchivedChat(sessionId: string) {
  const chat = await makeChat(sql, sessionId);
  await age(sql, "chats", chat.id, { archived_at: "40 days", updated_at: "40 days" });
  return chat.id as string;
}

describe("archive_chat", () => {
  it("archives and restores; archiving again keeps the first archived_at; each change takes a revision", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    const [before] = await sql`select revision::int from chats where id = ${chatId}`;
    const { chat } = await asOwner(accountId, "public.archive_chat($1, true)", chatId);
    expect(chat).toMatchObject({ id: chatId, archived_at: expect.any(String), revision: before.revision + 1 });
    const again = await asOwner(accountId, "public.archive_chat($1, true)", chatId);
    expect(again.chat).toMatchObject({ archived_at: chat.archived_at, revision: chat.revision });
    const restored = await asOwner(accountId, "public.archive_chat($1, false)", chatId);
    expect(restored.chat).toMatchObject({ archived_at: null, revision: chat.revision + 1 });
  });

  it("is PT404 for another account's chat, which stays as it was", async () => {
    const { chatId } = await ownedChat(sql);
    expect(await failure(asOwner(await makeAccount(sql), "public.archive_chat($1, true)", chatId)))
      .toMatchObject({ code: "PT404" });
    expect((await sql`select archived_at from chats where id = ${chatId}`)[0].archived_at).toBeNull();
  });
});

describe("lists and archived chats", () => {
  it("list_chats hides archived chats unless include_archived; list_sessions counts only the others", async () => {
    const { accountId, sessionId, chatId: kept } = await ownedChat(sql);
    const archived = (await makeChat(sql, sessionId)).id;
    await asOwner(accountId, "public.append_message($1, $2::jsonb)", archived, {
      id: id("a"),
      role: "assistant",
      parts: [{ type: "text", text: "unread" }],
    });
    await asOwner(accountId, "public.archive_chat($1, true)", archived);

    const ids = (page: Json) => page.chats.map((c: Json) => c.id).sort();
    expect(ids(await asOwner(accountId, "public.list_chats()"))).toEqual([kept]);
    expect(ids(await asOwner(accountId, "public.list_chats(session_id => $1)", sessionId))).toEqual([kept]);
    expect(ids(await asOwner(accountId, "public.list_chats(include_archived => true)"))).toEqual(
      [kept, archived].sort(),
    );
    expect(ids(await asService("public.list_chats($1, include_archived => false)", accountId))).toEqual([kept]);

    const [session] = (await asOwner(accountId, "public.list_sessions()")).sessions;
    expect(session).toMatchObject({ id: sessionId, chat_count: 1, has_unread: false });
  });

  it("list_chats keeps one signature, callable by users and the service role but not anon", async () => {
    const rows = await sql`
      select p.oid::regprocedure::text as fn,
             has_function_privilege('anon', p.oid, 'execute') as anon,
             has_function_privilege('authenticated', p.oid, 'execute') as authenticated,
             has_function_privilege('service_role', p.oid, 'execute') as service_role
        from pg_proc p where p.proname = 'list_chats' and p.pronamespace = 'public'::regnamespace`;
    expect(rows).toEqual([{
      fn: "list_chats(uuid,text,integer,text,boolean)",
      anon: false,
      authenticated: true,
      service_role: true,
    }]);
  });
});

interface ForeignKey {
  child: string;
  column: string;
  parent: string;
  parentColumn: string;
  /** pg_constraint.confdeltype: c is ON DELETE CASCADE. */
  onDelete: string;
}

/** Every foreign key in public, single-column, as (child table, column) -> (parent table, column). */
async function foreignKeys(sql: Sql): Promise<ForeignKey[]> {
  return await sql<ForeignKey[]>`
    select c.conrelid::regclass::text as child, a.attname as column,
           c.confrelid::regclass::text as parent, pa.attname as "parentColumn", c.confdeltype as "onDelete"
      from pg_constraint c
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
      join pg_attribute pa on pa.attrelid = c.confrelid and pa.attnum = c.confkey[1]
     where c.contype = 'f' and c.connamespace = 'public'::regnamespace and cardinality(c.conkey) = 1
     order by 1, 2`;
}

/** The foreign keys under `root`: those to it, then those to the tables that point at it, and so on. */
async function keysUnder(root: string) {
  const keys = await foreignKeys(sql);
  const under = new Set([root]);
  const found: ForeignKey[] = [];
  for (let grew = true; grew;) {
    grew = false;
    for (const key of keys) {
      if (under.has(key.parent) && !found.includes(key)) {
        found.push(key);
        grew = !under.has(key.child) || grew;
        under.add(key.child);
      }
    }
  }
  return found;
}

describe("cascade parity", () => {
  it("every foreign key is single-column (the checks below rely on it)", async () => {
    const [{ n }] = await sql`
      select count(*)::int as n from pg_constraint
       where contype = 'f' and connamespace = 'public'::regnamespace and cardinality(conkey) <> 1`;
    expect(n).toBe(0);
  });

  it("every foreign key that points at chats or sessions, directly or through another table, cascades", async () => {
    for (const root of ["chats", "sessions"]) {
      const keys = await keysUnder(root);
      expect(keys.length, root).toBeGreaterThanOrEqual(root === "chats" ? 5 : 2);
      for (const key of keys) {
        expect(key.onDelete, `${key.child}.${key.column} -> ${key.parent} must be ON DELETE CASCADE`).toBe("c");
      }
    }
  });
});

/**
 * The rows under a chat or session, table by table, following every foreign key down from it: for
 * each key, the values of the parent column it points at. After a purge none may be referenced.
 */
async function rowsUnder(root: "chats" | "sessions", rootId: string) {
  const keys = await keysUnder(root);
  const values = new Map<string, unknown[]>([[`${root}.id`, [rootId]]]);
  const counts: Record<string, number> = {};
  for (let grew = true; grew;) {
    grew = false;
    for (const key of keys) {
      const parentValues = values.get(`${key.parent}.${key.parentColumn}`);
      if (!parentValues || `${key.child}.${key.column}` in counts) continue;
      const rows = await sql`select * from ${sql(key.child)} where ${
        sql(key.column)
      } = any(${parentValues as string[]})`;
      counts[`${key.child}.${key.column}`] = rows.length;
      for (const column of keys.filter((k) => k.parent === key.child).map((k) => k.parentColumn)) {
        const name = `${key.child}.${column}`;
        values.set(name, [...(values.get(name) ?? []), ...rows.map((r) => r[column])]);
      }
      grew = true;
    }
  }
  const referenced = async () => {
    const left: Record<string, number> = {};
    for (const key of keys) {
      const parentValues = values.get(`${key.parent}.${key.parentColumn}`) ?? [];
      const [{ n }] = await sql`
        select count(*)::int as n from ${sql(key.child)} where ${sql(key.column)} = any(${parentValues as string[]})`;
      left[`${key.child}.${key.column}`] = n;
    }
    return left;
  };
  return { counts, referenced };
}

/** A chat with a row in every chat-scoped table: messages, read marker, runs and steps, queue, pins. */
async function fullyPopulatedChat(accountId: string, sessionId: string) {
  const chat = await makeChat(sql, sessionId);
  await makeMessage(sql, chat.id, "user");
  await makeMessage(sql, chat.id, "assistant");
  // An earlier branch: the answer regenerated (cut and kept), then answered again; the chat idle.
  await asService("public.regenerate($1)", chat.id);
  await makeMessage(sql, chat.id, "assistant");
  await sql`update chats set status = 'idle' where id = ${chat.id}`;
  await sql`insert into chat_reads (account_id, chat_id) values (${accountId}, ${chat.id})`;
  // One clock reading for both ends: makeRun's own started_at could be a millisecond after finished_at.
  const finished = new Date();
  const run = await makeRun(sql, chat.id, {
    status: "completed",
    started_at: finished,
    finished_at: finished,
    total_duration_ms: 0,
  });
  await makeStep(sql, run.id, 1);
  await makeStep(sql, run.id, 2);
  const streamed = id("reply");
  await sql`insert into chat_streams (message_id, chat_id, run_id, opened_revision, next_index, closed_at)
            values (${streamed}, ${chat.id}, ${run.id}, 0, 2, now())`;
  await sql`insert into chat_stream_chunks (message_id, from_index, at_revision, chunks)
            values (${streamed}, 0, 0, ${sql.json([{ type: "start", messageId: streamed }, { type: "finish" }])})`;
  const queuedId = id("q");
  await sql`insert into chat_queued_messages (id, chat_id, message, position)
            values (${queuedId}, ${chat.id}, ${sql.json({ id: queuedId, role: "user", parts: [] })}, 1)`;
  await asService(
    "public.push_context($1, $2::jsonb)",
    sessionId,
    [{ source: "AGENTS.md", kind: "instructions", body: "Be brief." }],
  );
  await asService("public.pin_context($1)", chat.id);
  return chat.id as string;
}

describe("purge_archived", () => {
  it("deletes a fully populated archived chat and leaves nothing that points at it", async () => {
    const { accountId, sessionId } = await ownedChat(sql);
    const doomed = await fullyPopulatedChat(accountId, sessionId);
    const bystander = await fullyPopulatedChat(accountId, sessionId);
    await age(sql, "chats", doomed, { archived_at: "40 days", updated_at: "40 days" });
    const under = await rowsUnder("chats", doomed);
    const bystanderRows = await rowsUnder("chats", bystander);

    // Fully populated means a row in every table that points at chats, however many are added later.
    const empty = Object.entries(under.counts).filter(([, n]) => n === 0).map(([table]) => table);
    expect(empty, "populate these tables in fullyPopulatedChat()").toEqual([]);

    const usage = () => sql`select * from usage_daily where account_id = ${accountId} order by day, stripe`;
    const usageBefore = await usage();
    expect(await purge()).toEqual({ chats: 1, sessions: 0, more: false });
    expect((await sql`select count(*)::int as n from chats where id = ${doomed}`)[0].n).toBe(0);
    // What the account used stays: budgets count usage_daily, which belongs to the account, not the chat.
    expect(usageBefore.length).toBeGreaterThan(0);
    expect(await usage()).toEqual(usageBefore);
    expect(Object.values(await under.referenced()).every((n) => n === 0), JSON.stringify(await under.referenced()))
      .toBe(true);
    expect(await bystanderRows.referenced()).toEqual(bystanderRows.counts);
  });

  it("deletes an idle session left without chats, with everything under it", async () => {
    const { sessionId, chatId } = await ownedChat(sql);
    await asService(
      "public.push_context($1, $2::jsonb)",
      sessionId,
      [{ source: "AGENTS.md", kind: "instructions", body: "x" }],
    );
    await sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update session_context_resources set updated_at = now() - interval '40 days'
                where session_id = ${sessionId}`;
    });
    await age(sql, "chats", chatId, { archived_at: "40 days", updated_at: "40 days" });
    await age(sql, "sessions", sessionId, { updated_at: "40 days" });
    const under = await rowsUnder("sessions", sessionId);
    expect(await purge()).toEqual({ chats: 1, sessions: 1, more: false });
    expect((await sql`select count(*)::int as n from sessions where id = ${sessionId}`)[0].n).toBe(0);
    expect(Object.values(await under.referenced()).every((n) => n === 0)).toBe(true);
  });

  it("keeps what is younger than older_than: recent archives, chats with later activity, active sessions", async () => {
    const { sessionId, chatId: live } = await ownedChat(sql);
    await age(sql, "sessions", sessionId, { updated_at: "40 days" });
    const recent = await makeChat(sql, sessionId);
    await age(sql, "chats", recent.id, { archived_at: "10 days", updated_at: "10 days" });
    const revived = await makeChat(sql, sessionId);
    await age(sql, "chats", revived.id, { archived_at: "40 days", updated_at: "1 day" });
    const unarchived = await makeChat(sql, sessionId);
    await age(sql, "chats", unarchived.id, { updated_at: "400 days" });

    const busy = await makeSession(sql, await makeAccount(sql));
    await age(sql, "sessions", busy.id, { updated_at: "40 days", last_activity_at: "1 day" });
    const pushedTo = await makeSession(sql, await makeAccount(sql));
    await age(sql, "sessions", pushedTo.id, { updated_at: "40 days" });
    await asService(
      "public.push_context($1, $2::jsonb)",
      pushedTo.id,
      [{ source: "AGENTS.md", kind: "instructions", body: "x" }],
    );

    expect(await purge()).toEqual({ chats: 0, sessions: 0, more: false });
    expect(await purge("5 days")).toMatchObject({ chats: 1 });
    const left = await sql`select id from chats where session_id = ${sessionId} order by id`;
    expect(left.map((r) => r.id).sort()).toEqual([live, revived.id, unarchived.id].sort());
    expect((await sql`select count(*)::int as n from sessions where id in ${sql([busy.id, pushedTo.id])}`)[0].n)
      .toBe(2);
  });

  it("deletes at most batch_size chats per call, and says whether more remain", async () => {
    const { sessionId } = await ownedChat(sql);
    for (let i = 0; i < 25; i++) await oldArchivedChat(sessionId);
    await makeChat(sql, sessionId); // keeps the session
    expect(await purge("30 days", 10)).toEqual({ chats: 10, sessions: 0, more: true });
    expect(await purge("30 days", 10)).toEqual({ chats: 10, sessions: 0, more: true });
    expect(await purge("30 days", 10)).toEqual({ chats: 5, sessions: 0, more: false });

    for (let i = 0; i < 20; i++) await oldArchivedChat(sessionId);
    expect(await purge("30 days", 10)).toEqual({ chats: 10, sessions: 0, more: true });
    expect(await purge("30 days", 10)).toEqual({ chats: 10, sessions: 0, more: false });
  });

  it("counts sessions in batches too", async () => {
    const sessions = [];
    for (let i = 0; i < 3; i++) {
      const session = await makeSession(sql, await makeAccount(sql));
      await age(sql, "sessions", session.id, { updated_at: "40 days" });
      sessions.push(session.id);
    }
    expect(await purge("30 days", 2)).toEqual({ chats: 0, sessions: 2, more: true });
    expect(await purge("30 days", 2)).toEqual({ chats: 0, sessions: 1, more: false });
  });

  it("skips a chat another transaction holds instead of waiting, and takes it on a later call", async () => {
    const { sessionId } = await ownedChat(sql);
    const held = await oldArchivedChat(sessionId);
    const free = await oldArchivedChat(sessionId);
    let release!: () => void;
    const released = new Promise<void>((resolve) => release = resolve);
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => locked = resolve);
    const holder = sql.begin(async (tx) => {
      await tx`select from chats where id = ${held} for update`;
      locked();
      await released;
    });
    await isLocked;
    const started = Date.now();
    expect(await purge()).toEqual({ chats: 1, sessions: 0, more: false });
    expect(Date.now() - started).toBeLessThan(1000);
    release();
    await holder;
    expect((await sql`select id from chats where id in ${sql([held, free])}`).map((r) => r.id)).toEqual([held]);
    expect(await purge()).toEqual({ chats: 1, sessions: 0, more: false });
  });

  it("is for the service role only, and refuses nonsense arguments", async () => {
    const { accountId } = await ownedChat(sql);
    expect((await failure(asOwner(accountId, "public.purge_archived()")))?.code).toBe("42501");
    expect((await failure(asAnon(sql, (tx) => tx`select public.purge_archived()`)))?.code).toBe("42501");
    expect(await failure(purge("30 days", 0))).toMatchObject({ code: "PT400", detail: "invalid_limit" });
    expect(await failure(purge("-1 day"))).toMatchObject({ code: "PT400" });
  });
});
