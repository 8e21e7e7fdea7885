// follow-chat: catch-up from a cursor, live changes, resuming with Last-Event-ID, and the errors
// that come before a stream starts. The followers read the stream with the parser EventSource uses.
import { uiMessage } from "../support/factories.ts";
import { describe, expect, it } from "vitest";
import { chatSummary, messageSummary } from "../../functions/_shared/schemas/mod.ts";
import { applied, follow, type FollowEvent } from "../support/follow.ts";
import { apiUrl, invoke, newUser, service, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";
import { readFileSync } from "node:fs";
import { inject } from "vitest";

const sql = useFunctionsDatabase();
const followUrl = (chatId: string, query = "") => `${apiUrl}/functions/v1/follow-chat?chat_id=${chatId}${query}`;
const revisions = (events: FollowEvent[], kind = "message") => events.filter((e) => e.event === kind).map((e) => e.id!);
const say = (user: Awaited<ReturnType<typeof userWithChat>>, text: string, id = uid("u")) =>
  invoke(user.client, "append-message", { chat_id: user.chatId, message: uiMessage(id, "user", text) });
const answer = (user: Awaited<ReturnType<typeof userWithChat>>, id: string, text: string) =>
  invoke(service, "append-message", { chat_id: user.chatId, message: uiMessage(id, "assistant", text) });
const dbRevision = async (chatId: string) =>
  Number((await sql`select revision from chats where id = ${chatId}`)[0].revision);

describe("before the stream starts: the JSON error contract", () => {
  it("401 without a token, 404 for another account's chat, 400 for a bad or future cursor", async () => {
    const user = await userWithChat();
    await say(user, "hello");
    const anonymous = await fetch(followUrl(user.chatId));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("content-type")).toContain("application/json");

    const stranger = await newUser();
    const other = await fetch(followUrl(user.chatId), { headers: { Authorization: `Bearer ${stranger.token}` } });
    expect(other.status).toBe(404);
    expect((await other.json()).error.code).toBe("not_found");

    const ahead = await fetch(followUrl(user.chatId, "&after=99"), {
      headers: { Authorization: `Bearer ${user.token}` },
    });
    expect(ahead.status).toBe(400);
    expect((await ahead.json()).error.code).toBe("cursor_ahead");

    for (const bad of ["&after=-1", "&after=x"]) {
      const r = await fetch(followUrl(user.chatId, bad), { headers: { Authorization: `Bearer ${user.token}` } });
      expect(r.status, bad).toBe(400);
      expect((await r.json()).error.code).toBe("invalid_request");
    }
    const badLastId = await fetch(followUrl(user.chatId), {
      headers: { Authorization: `Bearer ${user.token}`, "Last-Event-ID": "abc" },
    });
    expect(badLastId.status).toBe(400);
  });
});

describe("catch-up, then live", () => {
  it("sends the messages after the cursor in revision order, the chat, then each new change", async () => {
    const user = await userWithChat();
    for (const text of ["one", "two", "three"]) await say(user, text);
    const f = await follow(followUrl(user.chatId, "&after=1"), { token: user.token });
    expect(f.status).toBe(200);
    expect(f.headers.get("content-type")).toContain("text/event-stream");
    await f.until((events) => events.some((e) => e.event === "chat"));
    expect(f.raw.join("")).toMatch(/^retry: 1000\n\n/);
    expect(f.events.map((e) => [e.event, e.id])).toEqual([["message", 2], ["message", 3], ["chat", 3]]);
    for (const e of f.events) (e.event === "chat" ? chatSummary : messageSummary).parse(e.data);

    const assistantId = uid("a");
    await answer(user, assistantId, "working");
    // A rewrite read in the same batch as its insert arrives once, at its latest revision: wait for the
    // insert, so that this test sees both changes.
    await f.until((events) => revisions(events).includes(4));
    await answer(user, assistantId, "working on it");
    await f.until((events) => revisions(events).length === 4 && events.at(-1)?.event === "chat");
    // Live: each change's message, then the chat.
    expect(revisions(f.events).slice(2)).toEqual([4, 5]);
    expect(f.events.at(-1)).toMatchObject({ event: "chat", id: 5 });
    const lastMessage = f.events.filter((e) => e.event === "message").at(-1)!;
    expect((lastMessage.data as { message: unknown }).message).toEqual(
      uiMessage(assistantId, "assistant", "working on it"),
    );
    f.cut();
  });

  it("without a cursor starts from the current state: the chat, then live changes", async () => {
    const user = await userWithChat();
    await say(user, "before");
    const f = await follow(followUrl(user.chatId), { token: user.token });
    await f.until((events) => events.length === 1);
    expect(f.events[0]).toMatchObject({ event: "chat", id: 1 });
    await say(user, "after");
    await f.until((events) => revisions(events).length === 1);
    expect(f.events[1]).toMatchObject({ event: "message", id: 2 });
    f.cut();
  });

  it("registers the chat as followed before its first read, so its changes are announced; other chats' are not", async () => {
    const user = await userWithChat();
    const unfollowed = await userWithChat();
    const followed = async (chatId: string) =>
      (await sql`select count(*)::int as n from private.followed_chats where chat_id = ${chatId} and until > now()`)[0]
        .n;
    const f = await follow(followUrl(user.chatId), { token: user.token });
    await f.until((events) => events.length === 1);
    expect([await followed(user.chatId), await followed(unfollowed.chatId)]).toEqual([1, 0]);
    // Announced, so delivered well inside the 1 s poll that backs up a missed hint.
    const started = performance.now();
    await say(user, "live");
    await f.until((events) => revisions(events).length === 1);
    expect(performance.now() - started).toBeLessThan(900);
    f.cut();
  });

  it("the read marker moving in another tab reaches followers as a chat event", async () => {
    const user = await userWithChat();
    await answer(user, uid("a"), "done");
    const f = await follow(followUrl(user.chatId, "&after=1"), { token: user.token });
    await f.until((events) => events.some((e) => e.event === "chat"));
    expect((f.events.at(-1)!.data as { has_unread: boolean }).has_unread).toBe(true);
    await invoke(user.client, "mark-read", { chat_id: user.chatId });
    await f.until((events) =>
      events.at(-1)?.event === "chat" && !(events.at(-1)!.data as { has_unread: boolean }).has_unread
    );
    f.cut();
  });

  it("accepts the token as access_token (for EventSource) and never logs it", async () => {
    const user = await userWithChat();
    await say(user, "hi");
    const f = await follow(followUrl(user.chatId, `&after=0&access_token=${user.token}`));
    expect(f.status).toBe(200);
    await f.until((events) => events.some((e) => e.event === "chat"));
    f.cut();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(readFileSync(inject("functionsLogFile"), "utf8")).not.toContain(user.token.split(".")[2]);
  });
});

describe("resuming", () => {
  it("Last-Event-ID wins over after; a message rewritten while away is sent once, at its latest state", async () => {
    const user = await userWithChat();
    await say(user, "question");
    const first = await follow(followUrl(user.chatId, "&after=0"), { token: user.token });
    await first.until((events) => events.some((e) => e.event === "chat"));
    first.cut();
    const seen = first.lastEventId()!;

    const assistantId = uid("a");
    for (let step = 1; step <= 5; step++) await answer(user, assistantId, `step ${step}`);
    await say(user, "while away");

    const second = await follow(followUrl(user.chatId, "&after=0"), { token: user.token, lastEventId: seen });
    await second.until((events) => events.some((e) => e.event === "chat"));
    const messages = second.events.filter((e) => e.event === "message");
    expect(messages.map((e) => (e.data as { id: string }).id)).toEqual([assistantId, expect.any(String)]);
    expect((messages[0].data as { message: unknown }).message).toEqual(uiMessage(assistantId, "assistant", "step 5"));
    expect(Math.min(...revisions(second.events))).toBeGreaterThan(Number(seen));
    second.cut();
  });

  it("a follower cut off again and again while writers keep going receives every change once, in order", async () => {
    const user = await userWithChat();
    let writing = true;
    const writer = (async () => {
      let i = 0;
      while (writing) {
        const assistantId = uid("a");
        await say(user, `question ${i}`);
        for (let step = 0; step < 3; step++) await answer(user, assistantId, `answer ${i} step ${step}`);
        i++;
      }
    })();

    const all: FollowEvent[] = [];
    let lastId: string | undefined = "0";
    for (let round = 0; round < 6; round++) {
      const f = await follow(followUrl(user.chatId), { token: user.token, lastEventId: lastId });
      await f.until((events) => revisions(events).length >= 5 + round);
      f.cut();
      await f.closed;
      all.push(...f.events);
      lastId = f.lastEventId();
    }
    writing = false;
    await writer;
    const last = await follow(followUrl(user.chatId), { token: user.token, lastEventId: lastId });
    await last.until((events) => events.some((e) => e.event === "chat"));
    last.cut();
    all.push(...last.events);

    const ids = revisions(all);
    expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
    const rows = await sql`select id, parts from chat_messages where chat_id = ${user.chatId}`;
    expect(applied(all)).toEqual(new Map(rows.map((r) => [r.id, r.parts])));
    expect(Math.max(...revisions(all, "chat"))).toBe(await dbRevision(user.chatId));
  });
});
