// The change cursor: which writes take a chat revision, that revisions increase in commit order,
// and that a follower reading "revision > N" over and over ends with exactly the chat's state.
import { describe, expect, it } from "vitest";
import { age, asServiceRole, asUser, type Sql, useTestDatabase } from "../support/db.ts";
import { id, ownedChat, uiMessage } from "../support/factories.ts";
import { connect } from "../../scripts/local-stack/database.ts";

const { sql, url } = await useTestDatabase();

const append = (accountId: string, chatId: string, message: ReturnType<typeof uiMessage>) =>
  asUser(sql, accountId, (tx) => tx`select public.append_message(${chatId}, ${tx.json(message)}) as r`).then(
    ([row]) => row.r,
  );

const chatRow = async (chatId: string) => (await sql`select * from chats where id = ${chatId}`)[0];

describe("what takes a revision", () => {
  it("a new message takes the next revision, and its chat's title change in the same call shares it", async () => {
    const { accountId, chat } = await ownedChat(sql);
    const before = await chatRow(chat.id);
    const { message } = await append(accountId, chat.id, uiMessage(id("m"), "user", "Fix the flaky test"));
    const after = await chatRow(chat.id);
    expect(Number(before.revision)).toBe(0);
    expect(Number(message.revision)).toBe(1);
    expect(Number(after.revision)).toBe(1);
    expect(after.title).toBe("Fix the flaky test");
  });

  it("each message changed takes a revision of its own, even in one transaction", async () => {
    const { chat } = await ownedChat(sql);
    await sql.begin(async (tx) => {
      for (const role of ["user", "assistant", "user"] as const) {
        const messageId = id("m");
        await tx`insert into chat_messages (id, chat_id, role, parts)
                 values (${messageId}, ${chat.id}, ${role}, ${tx.json(uiMessage(messageId, role))})`;
      }
      await tx`update chats set title = 'renamed' where id = ${chat.id}`;
    });
    const rows = await sql`select revision::int as r from chat_messages where chat_id = ${chat.id} order by seq`;
    expect(rows.map((r) => r.r)).toEqual([1, 2, 3]);
    // The title change came after the messages in the same transaction: it shares the last revision.
    expect(Number((await chatRow(chat.id)).revision)).toBe(3);
  });

  it("a rewritten assistant message takes the next revision and moves last_assistant_message_at; an identical one takes none", async () => {
    const { accountId, chat } = await ownedChat(sql);
    const messageId = id("a");
    await append(accountId, chat.id, uiMessage(messageId, "assistant", "step 1"));
    const first = await chatRow(chat.id);
    const { message } = await append(accountId, chat.id, uiMessage(messageId, "assistant", "step 1 and 2"));
    const second = await chatRow(chat.id);
    expect(Number(message.revision)).toBe(Number(first.revision) + 1);
    expect(Number(second.revision)).toBe(Number(first.revision) + 1);
    expect(second.last_assistant_message_at.getTime()).toBeGreaterThan(first.last_assistant_message_at.getTime());

    await append(accountId, chat.id, uiMessage(messageId, "assistant", "step 1 and 2"));
    expect(Number((await chatRow(chat.id)).revision)).toBe(Number(second.revision));
  });

  it("the owner's read marker takes a revision but leaves updated_at (lists do not reorder on read)", async () => {
    const { accountId, chat } = await ownedChat(sql);
    await append(accountId, chat.id, uiMessage(id("a"), "assistant"));
    const before = await chatRow(chat.id);
    await asUser(sql, accountId, (tx) => tx`select public.mark_read(${chat.id})`);
    const after = await chatRow(chat.id);
    expect(Number(after.revision)).toBe(Number(before.revision) + 1);
    expect(after.updated_at).toEqual(before.updated_at);
    // A marker that does not move (an older time) takes nothing.
    await asUser(sql, accountId, (tx) => tx`select public.mark_read(${chat.id}, now() - interval '1 day')`);
    expect(Number((await chatRow(chat.id)).revision)).toBe(Number(after.revision));
  });

  it("a change of the chat's own state takes one revision per transaction and moves updated_at", async () => {
    const { chat } = await ownedChat(sql, { fields: { updated_at: new Date("2026-01-01T00:00:00Z") } });
    await sql.begin(async (tx) => {
      await tx`update chats set title = 'one' where id = ${chat.id}`;
      await tx`update chats set model_id = 'two' where id = ${chat.id}`;
      await tx`update chats set last_error = 'three' where id = ${chat.id}`;
    });
    const after = await chatRow(chat.id);
    expect(Number(after.revision)).toBe(1);
    expect(after.updated_at.getTime()).toBeGreaterThan(chat.updated_at.getTime());
  });

  it("an update that changes nothing visible takes no revision and keeps updated_at", async () => {
    const { chat } = await ownedChat(sql);
    await sql`update chats set title = title where id = ${chat.id}`;
    const after = await chatRow(chat.id);
    expect(Number(after.revision)).toBe(0);
    expect(after.updated_at).toEqual(chat.updated_at);
  });

  it("activity in a chat moves its session's updated_at, so sessions list by latest activity", async () => {
    const { accountId, session, chat } = await ownedChat(sql);
    await age(sql, "chats", chat.id, { updated_at: "1 hour" });
    const { message } = await append(accountId, chat.id, uiMessage(id("m"), "user"));
    const [row] = await sql`select updated_at from sessions where id = ${session.id}`;
    // The session moved in the append's own transaction (now() is the transaction's time).
    expect(row.updated_at.toISOString()).toBe(new Date(message.created_at).toISOString());
    expect(row.updated_at.getTime()).toBeGreaterThan(session.updated_at.getTime() - 1);
  });

  it("a chat moves its session on its first activity in each second, not at every write", async () => {
    const secondOf = (at: string | Date) => Math.floor(new Date(at).getTime() / 1000);
    let sameSecond = 0;
    for (let attempt = 0; attempt < 5 && sameSecond === 0; attempt++) {
      const { accountId, session, chat } = await ownedChat(sql);
      await age(sql, "chats", chat.id, { updated_at: "1 hour" });
      const first = (await append(accountId, chat.id, uiMessage(id("m"), "user"))).message;
      const second = (await append(accountId, chat.id, uiMessage(id("m"), "user"))).message;
      const [row] = await sql`select updated_at from sessions where id = ${session.id}`;
      // The first append is the chat's first activity in its second. The second is not, unless the
      // clock entered a new second between the two: then it moves the session again.
      const inFirstsSecond = secondOf(second.created_at) === secondOf(first.created_at);
      if (inFirstsSecond) sameSecond++;
      const expected = inFirstsSecond ? first.created_at : second.created_at;
      expect(row.updated_at.toISOString()).toBe(new Date(expected).toISOString());
    }
    // Two appends a few milliseconds apart share their second nearly always; five tries in a row do not miss.
    expect(sameSecond).toBe(1);
  });
});

describe("notifications", () => {
  it("every committed revision of a followed chat is announced on chat_changes with {chat_id, revision}; a rolled-back one is not", async () => {
    const { accountId, chat } = await ownedChat(sql);
    await asServiceRole(sql, (tx) => tx`select public.follow_chats(${[chat.id]})`);
    const listener = connect(url);
    const heard: { chat_id: string; revision: number }[] = [];
    await listener.listen("chat_changes", (payload) => {
      const event = JSON.parse(payload);
      if (event.chat_id === chat.id) heard.push(event);
    });
    await append(accountId, chat.id, uiMessage(id("m"), "user"));
    await sql.begin(async (tx) => {
      await tx`update chats set title = 'never' where id = ${chat.id}`;
      await tx`select 1/0`;
    }).catch(() => {});
    await append(accountId, chat.id, uiMessage(id("a"), "assistant"));
    await expect.poll(() => heard.length).toBe(2);
    expect(heard).toEqual([{ chat_id: chat.id, revision: 1 }, { chat_id: chat.id, revision: 2 }]);
    await listener.end();
  });
});

describe("revisions under concurrency", () => {
  it("a follower asking for 'revision > N' while 8 writers append and rewrite ends with exactly the chat's state, each revision once and in order", async () => {
    const { accountId, chat } = await ownedChat(sql);
    const writers = 8, steps = 12;
    let writing = true;

    // The follower: what a follow stream does, reading chat_changes after the last revision it holds.
    const follower = (async (reader: Sql) => {
      let cursor = 0;
      const seen: number[] = [];
      const state = new Map<string, unknown>();
      const read = async () => {
        for (;;) {
          const [{ r }] = await asServiceRole(
            reader,
            (tx) => tx`select public.chat_changes(${chat.id}, ${cursor}, 50) as r`,
          );
          for (const m of r.messages) {
            seen.push(m.revision);
            state.set(m.id, m.message);
          }
          expect(r.chat.revision).toBeGreaterThanOrEqual(cursor);
          cursor = r.has_more ? r.messages.at(-1).revision : r.chat.revision;
          if (!r.has_more) return;
        }
      };
      while (writing) await read();
      await read();
      return { seen, state };
    })(sql);

    await Promise.all(Array.from({ length: writers }, async (_, w) => {
      const assistantId = id(`a${w}`);
      for (let i = 0; i < steps; i++) {
        if (i % 3 === 0) await append(accountId, chat.id, uiMessage(id(`u${w}`), "user", `question ${i}`));
        else await append(accountId, chat.id, uiMessage(assistantId, "assistant", `answer ${w} step ${i}`));
      }
    }));
    writing = false;
    const { seen, state } = await follower;

    const rows = await sql`select id, parts, revision::int as revision from chat_messages where chat_id = ${chat.id}`;
    expect(new Map(rows.map((r) => [r.id, r.parts]))).toEqual(state);
    // Revisions the follower saw strictly increase: nothing twice, nothing out of order.
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBe(seen.length);
    const final = await chatRow(chat.id);
    expect(Math.max(...rows.map((r) => r.revision))).toBeLessThanOrEqual(Number(final.revision));
  });
});
