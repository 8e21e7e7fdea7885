// What triggers maintain: updated_at on every update, and seq on every insert into a chat.
import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/db.ts";
import { makeChat, makeMessage, makeOwnedTree } from "../support/factories.ts";

const { sql } = await useTestDatabase();
let tree: Awaited<ReturnType<typeof makeOwnedTree>>;
beforeAll(async () => {
  tree = await makeOwnedTree(sql);
});

describe("updated_at", () => {
  const cases: [string, string, string][] = [
    ["accounts", "id", "id = id"],
    ["sessions", "id", "title = 'renamed'"],
    ["chats", "id", "title = 'renamed'"],
    ["chat_messages", "id", "parts = parts"],
    ["chat_reads", "chat_id", "last_read_at = now()"],
    ["workflow_runs", "id", "model_id = 'm2'"],
  ];
  it.each(cases)("advances on UPDATE of %s", async (table, key, set) => {
    const keyValue = {
      accounts: tree.accountId,
      sessions: tree.session.id,
      chats: tree.chat.id,
      chat_messages: tree.message.id,
      chat_reads: tree.chat.id,
      workflow_runs: tree.run.id,
    }[table];
    const [before] = await sql`select updated_at, created_at from ${sql(table)} where ${sql(key)} = ${keyValue!}`;
    await sql`select pg_sleep(0.002)`;
    const [after] = await sql.unsafe(
      `update public.${table} set ${set} where ${key} = $1 returning updated_at, created_at`,
      [keyValue!],
    );
    expect(after.updated_at.getTime()).toBeGreaterThan(before.updated_at.getTime());
    expect(after.created_at).toEqual(before.created_at);
  });
});

describe("seq", () => {
  it("numbers a chat's messages 1, 2, 3 in insert order, even within one transaction", async () => {
    const chat = await makeChat(sql, tree.session.id);
    const ids: string[] = [];
    await sql.begin(async (tx) => {
      for (let i = 0; i < 3; i++) ids.push((await makeMessage(tx, chat.id)).id);
    });
    const rows = await sql`select id, seq, created_at from chat_messages where chat_id = ${chat.id} order by seq`;
    expect(rows.map((r) => r.id)).toEqual(ids);
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3]);
    expect(new Set(rows.map((r) => r.created_at.getTime())).size).toBe(1);
  });

  it("ignores a seq the writer supplies and counts per chat", async () => {
    const chat = await makeChat(sql, tree.session.id);
    const [row] = await sql`
      insert into chat_messages (id, chat_id, role, parts, seq)
      values ('forged', ${chat.id}, 'user', '{"id":"forged","role":"user","parts":[]}', 1000) returning seq`;
    expect(row.seq).toBe("1");
    const [c] = await sql`select last_message_seq from chats where id = ${chat.id}`;
    expect(c.last_message_seq).toBe("1");
  });

  it("an insert into a missing chat is a foreign-key violation", async () => {
    const error = await sql`
      insert into chat_messages (id, chat_id, role, parts)
      values ('orphan', 'no-such-chat', 'user', '{"id":"orphan","role":"user","parts":[]}')`.catch((e) => e);
    expect(error.code).toBe("23503");
  });

  it("bumps the chat's updated_at on every insert", async () => {
    const chat = await makeChat(sql, tree.session.id);
    await sql`select pg_sleep(0.002)`;
    await makeMessage(sql, chat.id);
    const [after] = await sql`select updated_at from chats where id = ${chat.id}`;
    expect(after.updated_at.getTime()).toBeGreaterThan(chat.updated_at.getTime());
  });
});

describe("the chats revision trigger", () => {
  it("a heartbeat is bookkeeping (no revision, updated_at kept); a rename is activity (both move)", async () => {
    const chat = await makeChat(sql, tree.session.id, {
      status: "running",
      active_stream_id: "run-1",
      runner_id: "worker-1",
      heartbeat_at: new Date(Date.now() - 60_000),
    });
    const before = (await sql`select revision::int, updated_at from chats where id = ${chat.id}`)[0];
    await sql`update chats set heartbeat_at = now() where id = ${chat.id}`;
    const beat = (await sql`select revision::int, updated_at from chats where id = ${chat.id}`)[0];
    expect(beat).toEqual(before);
    await sql`update chats set title = 'renamed again' where id = ${chat.id}`;
    const renamed = (await sql`select revision::int, updated_at from chats where id = ${chat.id}`)[0];
    expect(renamed.revision).toBe(before.revision + 1);
    expect(renamed.updated_at.getTime()).toBeGreaterThan(before.updated_at.getTime());
  });
});
