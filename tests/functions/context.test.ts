// push-context, pin-context and get-context through the real Deno server, called with supabase-js
// as the sandbox side (service role) and the chat's owner would call them.
import { describe, expect, it } from "vitest";
import {
  invoke,
  newUser,
  post,
  read,
  service,
  serviceRoleKey,
  useFunctionsDatabase,
  userWithChat,
} from "../support/functions.ts";

const sql = useFunctionsDatabase();
const MiB = 1024 * 1024;

const agents = { source: "AGENTS.md", kind: "instructions", body: "Run the tests before committing." };
const skill = { source: ".agents/skills/release/SKILL.md", kind: "skill", body: "# Release" };
const live = (sessionId: string) =>
  sql`select source, body, size_bytes from session_context_resources where session_id = ${sessionId} order by source`;

describe("push-context", () => {
  it("upserts the session's live view for the service role and reports what changed", async () => {
    const user = await userWithChat();
    const first = await invoke(service, "push-context", {
      session_id: user.sessionId,
      resources: [agents, skill],
    });
    expect(first).toEqual({
      status: 200,
      body: { session_id: user.sessionId, added: [skill.source, agents.source], updated: [], removed: [] },
    });
    const second = await invoke(service, "push-context", {
      session_id: user.sessionId,
      resources: [{ ...agents, body: "New rules.", status: "truncated" }],
      replace: true,
    });
    expect(second.body).toMatchObject({ added: [], updated: [agents.source], removed: [skill.source] });
    expect(await live(user.sessionId)).toEqual([{ source: agents.source, body: "New rules.", size_bytes: 10 }]);
  });

  it("takes a request of up to 16 MiB, over the 1 MiB every other function allows", async () => {
    const user = await userWithChat();
    // Seven bodies of 2 MiB and a smaller one: 15.5 MiB of JSON.
    const resources = Array.from({ length: 7 }, (_, i) => ({
      source: `big-${i}.txt`,
      kind: "file",
      body: String(i).repeat(2 * MiB),
    }));
    resources.push({ source: "rest.txt", kind: "file", body: "r".repeat(1.5 * MiB) });
    const body = JSON.stringify({ session_id: user.sessionId, resources });
    expect(body.length).toBeGreaterThan(15 * MiB);
    expect(body.length).toBeLessThan(16 * MiB);
    const { status, body: answer } = await post("push-context", { token: serviceRoleKey, body });
    expect(status, JSON.stringify(answer)).toBe(200);
    expect(answer?.added).toHaveLength(8);
    const rows = await live(user.sessionId);
    expect(rows.map((r) => r.size_bytes)).toEqual([...Array(7).fill(2 * MiB), 1.5 * MiB]);
  });

  it("refuses a request over 16 MiB with 413 payload_too_large", async () => {
    const user = await userWithChat();
    const body = JSON.stringify({
      session_id: user.sessionId,
      resources: Array.from({ length: 9 }, (_, i) => ({ source: `f${i}`, kind: "file", body: "x".repeat(2 * MiB) })),
    });
    const { status, body: answer } = await post("push-context", { token: serviceRoleKey, body });
    expect(status).toBe(413);
    expect(answer).toMatchObject({ error: { code: "payload_too_large" } });
    expect(await live(user.sessionId)).toEqual([]);
  });

  it("refuses the whole request with 413 resource_too_large when one body is over 2 MiB of UTF-8: nothing is written", async () => {
    const user = await userWithChat();
    await invoke(service, "push-context", { session_id: user.sessionId, resources: [agents, skill] });
    const before = await live(user.sessionId);
    const { status, body } = await invoke(service, "push-context", {
      session_id: user.sessionId,
      // 2 MiB + 2 bytes of UTF-8 in fewer than 2 Mi characters.
      resources: [{ ...agents, body: "changed" }, { source: "big.md", kind: "file", body: "é".repeat(MiB + 1) }],
      replace: true,
    });
    expect(status).toBe(413);
    expect(body).toMatchObject({ error: { code: "resource_too_large", message: expect.stringContaining("big.md") } });
    expect(await live(user.sessionId)).toEqual(before);
  });

  it("is for the service role only (403 for the session's owner), and 404 for an unknown session", async () => {
    const user = await userWithChat();
    const asOwner = await invoke(user.client, "push-context", { session_id: user.sessionId, resources: [agents] });
    expect(asOwner).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    const unknown = await invoke(service, "push-context", { session_id: "no-such-session", resources: [agents] });
    expect(unknown.status).toBe(404);
    expect(await live(user.sessionId)).toEqual([]);
  });

  it("refuses malformed resources with 400 and writes nothing", async () => {
    const user = await userWithChat();
    for (
      const resources of [
        [{ ...agents, kind: "rule" }],
        [{ ...agents, status: "stale" }],
        [{ ...agents, body: "nul \u0000" }],
        [{ source: "", kind: "file", body: "" }],
        [{ source: "x", kind: "file" }],
        [agents, { ...agents, body: "twice" }],
      ]
    ) {
      const { status } = await invoke(service, "push-context", { session_id: user.sessionId, resources });
      expect(status, JSON.stringify(resources).slice(0, 200)).toBe(400);
    }
    expect(await live(user.sessionId)).toEqual([]);
  });
});

describe("pin-context", () => {
  it("copies the live view into the chat for its owner, then refreshes named sources", async () => {
    const user = await userWithChat();
    await invoke(service, "push-context", { session_id: user.sessionId, resources: [agents, skill] });
    const pinned = await invoke(user.client, "pin-context", { chat_id: user.chatId });
    expect(pinned).toEqual({
      status: 200,
      body: { chat_id: user.chatId, added: [skill.source, agents.source], updated: [], removed: [] },
    });

    await invoke(service, "push-context", {
      session_id: user.sessionId,
      resources: [{ ...agents, body: "v2" }],
      replace: true,
    });
    const refreshed = await invoke(user.client, "pin-context", {
      chat_id: user.chatId,
      sources: [skill.source],
    });
    expect(refreshed.body).toMatchObject({ added: [], updated: [], removed: [skill.source] });
    const rows = await sql`select source, body from chat_context_resources where chat_id = ${user.chatId}`;
    expect(rows).toEqual([{ source: agents.source, body: agents.body }]);
  });

  it("takes source names that PostgreSQL array syntax would trip on, exactly as named", async () => {
    const user = await userWithChat();
    const names = ['say "hi".md', "back\\slash\\", "{braces}", "a,b", "NULL", " spaced ", "$_$x$_$", "ü/東京.md"];
    const resources = names.map((source) => ({ source, kind: "file", body: source }));
    await invoke(service, "push-context", { session_id: user.sessionId, resources });
    await invoke(service, "push-context", {
      session_id: user.sessionId,
      resources: resources.map((r) => ({ ...r, body: `${r.body} v2` })),
    });
    const { status, body } = await invoke(user.client, "pin-context", {
      chat_id: user.chatId,
      sources: names,
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.added.sort()).toEqual([...names].sort());
    const rows = await sql`select source, body from chat_context_resources where chat_id = ${user.chatId}`;
    expect(rows.map((r) => r.body).sort()).toEqual(names.map((n) => `${n} v2`).sort());
  });

  it("lets the service role pin any chat, and answers 404 to another account", async () => {
    const owner = await userWithChat();
    await invoke(service, "push-context", { session_id: owner.sessionId, resources: [agents] });
    const intruder = await newUser();
    expect((await invoke(intruder.client, "pin-context", { chat_id: owner.chatId })).status).toBe(404);
    expect((await sql`select count(*)::int as n from chat_context_resources where chat_id = ${owner.chatId}`)[0].n)
      .toBe(0);
    expect((await invoke(service, "pin-context", { chat_id: owner.chatId })).body).toMatchObject({
      added: [agents.source],
    });
  });
});

describe("get-context", () => {
  it("returns the pins with their bodies and, after the live view changed, exactly what changed", async () => {
    const user = await userWithChat();
    const file = { source: "docs/spec.md", kind: "file", body: "v1" };
    await invoke(service, "push-context", { session_id: user.sessionId, resources: [agents, skill, file] });
    await invoke(user.client, "pin-context", { chat_id: user.chatId });
    const pinned = await read(user.client, "get-context", { chat_id: user.chatId });
    expect(pinned.status).toBe(200);
    expect(pinned.body.changed).toEqual({ added: [], updated: [], removed: [] });

    const notes = { source: "notes.md", kind: "file", body: "new" };
    await invoke(service, "push-context", {
      session_id: user.sessionId,
      resources: [{ ...agents, body: "changed by the sandbox" }, file, notes],
      replace: true,
    });
    const { status, body } = await read(user.client, "get-context", { chat_id: user.chatId });
    expect(status).toBe(200);
    expect(body.resources).toEqual(pinned.body.resources);
    expect(body.resources.map((r) => [r.source, r.body])).toEqual([
      [skill.source, skill.body],
      [agents.source, agents.body],
      [file.source, file.body],
    ]);
    expect(body.changed).toEqual({ updated: [agents.source], added: [notes.source], removed: [skill.source] });
    expect(JSON.stringify(body)).not.toContain("changed by the sandbox");
  });

  it("answers the service role for any chat, 404 to another account, and 400 without chat_id", async () => {
    const owner = await userWithChat();
    const intruder = await newUser();
    expect((await read(service, "get-context", { chat_id: owner.chatId })).body).toMatchObject({
      chat_id: owner.chatId,
      resources: [],
    });
    expect((await read(intruder.client, "get-context", { chat_id: owner.chatId })).status).toBe(404);
    expect((await read(owner.client, "get-context", {})).status).toBe(400);
    expect((await read(owner.client, "get-context", { chat_id: owner.chatId, extra: "1" })).status).toBe(400);
  });
});
