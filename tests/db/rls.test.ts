// Row level security: a signed-in user reaches only what they own, anon reaches nothing, the
// service role reaches everything. Checked as Supabase's REST layer would run each request.
import { beforeAll, describe, expect, it } from "vitest";
import { asAnon, asServiceRole, asUser, type Tx, useTestDatabase } from "../support/db.ts";
import { id, makeOwnedTree, uiMessage } from "../support/factories.ts";

const { sql } = await useTestDatabase();
let a: Awaited<ReturnType<typeof makeOwnedTree>>;
let b: Awaited<ReturnType<typeof makeOwnedTree>>;

beforeAll(async () => {
  a = await makeOwnedTree(sql);
  b = await makeOwnedTree(sql);
});

// Usage totals exist once the owned tree's step is recorded: one row each for its run, chat, session and day.
const tables = [
  "accounts",
  "sessions",
  "chats",
  "chat_messages",
  "chat_reads",
  "workflow_runs",
  "workflow_run_steps",
  "workflow_run_usage",
  "chat_usage",
  "session_usage",
  "usage_daily",
];
const countAll = async (tx: Tx) =>
  Object.fromEntries(
    await Promise.all(tables.map(async (t) => [t, (await tx`select count(*)::int as n from ${tx(t)}`)[0].n])),
  );

describe("reading", () => {
  it("a user sees exactly one row per table: their own", async () => {
    const seen = await asUser(sql, a.accountId, async (tx) => ({
      counts: await countAll(tx),
      session: (await tx`select id from sessions`)[0].id,
      chat: (await tx`select id from chats`)[0].id,
      message: (await tx`select id from chat_messages`)[0].id,
      run: (await tx`select id from workflow_runs`)[0].id,
      step: (await tx`select id from workflow_run_steps`)[0].id,
    }));
    expect(seen.counts).toEqual(Object.fromEntries(tables.map((t) => [t, 1])));
    expect(seen).toMatchObject({ session: a.session.id, chat: a.chat.id, message: a.message.id, run: a.run.id });
    expect(seen.step).toBe(a.step.id);
  });

  it("anon sees nothing in any table", async () => {
    expect(await asAnon(sql, countAll)).toEqual(Object.fromEntries(tables.map((t) => [t, 0])));
  });

  it("a stranger with no rows sees nothing", async () => {
    const counts = await asUser(sql, "9e3a0f4e-0000-4000-8000-00000000beef", countAll);
    expect(counts).toEqual(Object.fromEntries(tables.map((t) => [t, 0])));
  });

  it("the service role sees every account's rows", async () => {
    const counts = await asServiceRole(sql, countAll);
    for (const t of tables) expect(counts[t], t).toBeGreaterThanOrEqual(2);
  });
});

describe("writing another account's rows", () => {
  const rowsOf = async () =>
    await sql`
      select (select count(*) from sessions)::int as sessions, (select count(*) from chats)::int as chats,
             (select count(*) from chat_messages)::int as messages, (select count(*) from chat_reads)::int as reads,
             (select string_agg(title, ',' order by id) from chats) as titles,
             (select string_agg(parts::text, ',' order by id) from chat_messages) as parts`;

  it("updates and deletes of B's rows by A change nothing", async () => {
    const before = await rowsOf();
    await asUser(sql, a.accountId, async (tx) => {
      expect((await tx`update sessions set title = 'pwned' where id = ${b.session.id}`).count).toBe(0);
      expect((await tx`update chats set title = 'pwned' where id = ${b.chat.id}`).count).toBe(0);
      expect((await tx`update chat_messages set parts = parts where id = ${b.message.id}`).count).toBe(0);
      expect((await tx`update chat_reads set last_read_at = now() where chat_id = ${b.chat.id}`).count).toBe(0);
      expect((await tx`delete from chat_messages where chat_id = ${b.chat.id}`).count).toBe(0);
      expect((await tx`delete from chats where id = ${b.chat.id}`).count).toBe(0);
      expect((await tx`delete from sessions where id = ${b.session.id}`).count).toBe(0);
    });
    expect(await rowsOf()).toEqual(before);
  });

  const refused = async (accountId: string, write: (tx: Tx) => Promise<unknown>) => {
    const error = await asUser(sql, accountId, write).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    return error as Error & { code: string };
  };

  it("A cannot insert into B's session, chat or read markers, nor own rows for B", async () => {
    const before = await rowsOf();
    await refused(a.accountId, (tx) => tx`insert into sessions (account_id, title) values (${b.accountId}, 'x')`);
    await refused(a.accountId, (tx) => tx`insert into chats (session_id) values (${b.session.id})`);
    const msg = id("msg");
    const e = await refused(a.accountId, (tx) =>
      tx`insert into chat_messages (id, chat_id, role, parts)
         values (${msg}, ${b.chat.id}, 'user', ${tx.json(uiMessage(msg, "user"))})`);
    expect(["42501", "23503"]).toContain(e.code);
    await refused(
      a.accountId,
      (tx) => tx`insert into chat_reads (account_id, chat_id) values (${a.accountId}, ${b.chat.id})`,
    );
    await refused(
      a.accountId,
      (tx) => tx`insert into chat_reads (account_id, chat_id) values (${b.accountId}, ${a.chat.id})`,
    );
    await refused(a.accountId, (tx) => tx`insert into accounts (id) values (${b.accountId})`);
    expect(await rowsOf()).toEqual(before);
  });

  it("A cannot move their chat into B's session", async () => {
    const e = await refused(
      a.accountId,
      (tx) => tx`update chats set session_id = ${b.session.id} where id = ${a.chat.id}`,
    );
    expect(e.code).toBe("42501");
  });

  it("anon can write nothing", async () => {
    const e = await asAnon(sql, (tx) => tx`insert into accounts (id) values (gen_random_uuid())`).catch((e) => e);
    expect(e.code).toBe("42501");
    const n = await asAnon(sql, async (tx) => (await tx`update chats set title = 'x'`).count);
    expect(n).toBe(0);
  });
});

describe("writing one's own rows", () => {
  it("a user creates their account, a session, a chat, messages and a read marker", async () => {
    const me = crypto.randomUUID();
    const sessionId = id("session"), chatId = id("chat"), msg = id("msg");
    await asUser(sql, me, async (tx) => {
      await tx`insert into accounts (id) values (${me})`;
      await tx`insert into sessions (id, account_id, title) values (${sessionId}, ${me}, 'mine')`;
      await tx`insert into chats (id, session_id) values (${chatId}, ${sessionId})`;
      await tx`insert into chat_messages (id, chat_id, role, parts)
               values (${msg}, ${chatId}, 'user', ${tx.json(uiMessage(msg, "user"))})`;
      await tx`insert into chat_reads (account_id, chat_id) values (${me}, ${chatId})`;
    });
    const [row] = await sql`select seq from chat_messages where id = ${msg}`;
    expect(row.seq).toBe("1");
  });

  it("workflow runs and steps are written by the service role only", async () => {
    const e = await asUser(
      sql,
      a.accountId,
      (tx) => tx`insert into workflow_runs (id, chat_id, started_at) values (${id("run")}, ${a.chat.id}, now())`,
    ).catch((e) => e);
    expect(e.code).toBe("42501");
    const n = await asUser(
      sql,
      a.accountId,
      async (tx) => (await tx`update workflow_runs set model_id = 'x' where id = ${a.run.id}`).count,
    );
    expect(n).toBe(0);
    await asServiceRole(
      sql,
      (tx) => tx`insert into workflow_runs (id, chat_id, started_at) values (${id("run")}, ${a.chat.id}, now())`,
    );
  });

  it("usage totals are read-only for their owner: only the step trigger writes them", async () => {
    for (const table of ["workflow_run_usage", "chat_usage", "session_usage", "usage_daily"]) {
      const n = await asUser(sql, a.accountId, async (tx) => (await tx`update ${tx(table)} set cost_micros = 0`).count);
      expect(n, table).toBe(0);
      const e = await asUser(sql, a.accountId, (tx) => tx`delete from ${tx(table)}`).then((r) => r.count);
      expect(e, table).toBe(0);
    }
    const e = await asUser(
      sql,
      a.accountId,
      (tx) => tx`insert into chat_usage (chat_id, account_id, cost_micros) values (${a.chat.id}, ${a.accountId}, 0)`,
    ).catch((e) => e);
    expect(e.code).toBe("42501");
  });
});
