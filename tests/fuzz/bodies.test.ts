// Property-based fuzzing of every function's body: whatever arrives, the answer is a JSON 2xx or 4xx
// in the documented shape (never a 5xx, never a hang), a refused request changes nothing, and an
// accepted one stored exactly what was sent. corpus.json keeps inputs that once broke an invariant
// (or were feared to), replayed on every run.
//
// Why the dollar-quoting bug (a value ending in `$_` closed its own quote: 500) got through: the
// fuzzer only ever changed one field of a fixed valid body, to a random string or a wrong type, and
// a random string almost never ends in `$_`. So every string field of every function is now also
// filled with strings built from what quoting trips over (tests/support/hostile.ts).
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { soak } from "../support/soak.ts";
import {
  post,
  serviceRoleKey,
  uid,
  useFunctionsDatabase,
  type UserWithChat,
  userWithChat,
} from "../support/functions.ts";
import { hostileString, hostileValue } from "../support/hostile.ts";
import { everythingOf } from "../support/snapshot.ts";

const sql = useFunctionsDatabase();
const functions = [
  "create-chat",
  "append-message",
  "mark-read",
  "log-workflow-step",
  "push-context",
  "pin-context",
  "archive-chat",
  "edit-message",
  "regenerate",
  "respond-to-approval",
  "delete-queued-message",
  "promote-queued-message",
] as const;
const serviceOnly: Fn[] = ["log-workflow-step", "push-context"];
type Fn = typeof functions[number];
let user: UserWithChat;
/** A user message of the fuzzed chat, for edits and regenerates. */
const question = uid("fuzz-question");

beforeAll(async () => {
  user = await userWithChat();
  const response = await post("append-message", {
    token: user.token,
    body: JSON.stringify({ chat_id: user.chatId, message: { id: question, role: "user", parts: [] } }),
  });
  expect(response.status).toBe(201);
});

const snapshot = () => everythingOf(sql, user.accountId);

async function send(fn: Fn, body: string, contentType = "application/json") {
  const token = serviceOnly.includes(fn) ? serviceRoleKey : user.token;
  const response = await post(fn, {
    token,
    body,
    headers: { "Content-Type": contentType },
    signal: AbortSignal.timeout(10_000),
  });
  return response;
}

function expectWellFormed(response: Awaited<ReturnType<typeof post>>, input: string) {
  expect(response.status, `5xx for ${input.slice(0, 300)}`).toBeLessThan(500);
  expect(response.headers.get("content-type")).toBe("application/json");
  if (response.status >= 400) {
    expect(response.body, input.slice(0, 300)).toMatchObject({
      error: { code: expect.any(String), message: expect.any(String) },
    });
  }
}

/** Sends a body that must be refused and checks nothing changed. */
async function refusedWithoutEffect(fn: Fn, body: string, contentType?: string) {
  const before = await snapshot();
  const response = await send(fn, body, contentType);
  expectWellFormed(response, body);
  if (response.status >= 400) expect(await snapshot(), body.slice(0, 300)).toEqual(before);
  return response;
}

const deep = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

describe("the regression corpus", () => {
  // `status`: the answer expected (default: any 4xx). In `body`, $CHAT and $SESSION stand for the
  // fuzzed user's chat and session, $ID for an id prefix unique to this run, $DEEP for deep nesting.
  const corpus: { fn: Fn; why: string; body: string; status?: number }[] = JSON.parse(
    readFileSync(new URL("./corpus.json", import.meta.url), "utf8"),
  );
  it.each(corpus)("$fn: $why", async ({ fn, body, status }) => {
    const response = await refusedWithoutEffect(
      fn,
      body.replaceAll("$CHAT", user.chatId).replaceAll("$SESSION", user.sessionId).replaceAll("$ID", uid("corpus"))
        .replace("$DEEP", deep(5000)),
    );
    if (status) expect(response.status, response.text).toBe(status);
    else expect(response.status).toBeGreaterThanOrEqual(400);
  });
});

// Valid bodies to mutate: each would succeed as sent.
const valid = (): Record<Fn, Record<string, unknown>> => ({
  "create-chat": { session_id: user.sessionId, id: uid("chat"), title: "t" },
  "append-message": {
    chat_id: user.chatId,
    message: { id: uid("m"), role: "user", parts: [{ type: "text", text: "x" }] },
  },
  "mark-read": { chat_id: user.chatId, read_at: "2026-01-01T00:00:00Z" },
  "log-workflow-step": {
    run: { id: uid("run"), chat_id: user.chatId, started_at: "2026-01-01T00:00:00Z" },
    steps: [{ step_number: 1, started_at: "2026-01-01T00:00:00Z", finished_at: "2026-01-01T00:00:01Z" }],
  },
  "push-context": {
    session_id: user.sessionId,
    resources: [{ source: "AGENTS.md", kind: "instructions", body: "x", status: "ok" }],
  },
  "pin-context": { chat_id: user.chatId, sources: ["AGENTS.md"] },
  "archive-chat": { chat_id: user.chatId, archived: false },
  "edit-message": {
    chat_id: user.chatId,
    message_id: question,
    message: { id: question, role: "user", parts: [{ type: "text", text: "x" }] },
  },
  regenerate: { chat_id: user.chatId, message_id: question },
  // No approval is open and nothing is queued: these are refused (404) as sent; mutations must be too.
  "respond-to-approval": { chat_id: user.chatId, message_id: question, approval_id: "a-1", approved: true },
  "delete-queued-message": { chat_id: user.chatId, message_id: question },
  "promote-queued-message": { chat_id: user.chatId, message_id: question },
});

// Every string field of every function filled with hostile strings. Ids get a prefix unique to the
// run, so each body is new; references name the user's own chat or session, or a hostile id.
const text = (maxLength = 200) => hostileString({ maxLength });
const nonEmpty = (maxLength = 200) => hostileString({ minLength: 1, maxLength });
const freshId = nonEmpty().map((tail) => `${uid("h")}-${tail}`);
const reference = (own: () => string) =>
  fc.oneof(fc.constant(null).map(() => ({ own: true, id: own() })), nonEmpty().map((id) => ({ own: false, id })));
const at = "2026-01-01T00:00:00Z", later = "2026-01-01T00:00:01Z";

/** A body, and what must come back: the status, and for a 2xx the values sent, as stored. */
interface HostileCase {
  fn: Fn;
  body: Record<string, unknown>;
  status: number;
  echo?: Record<string, unknown>;
}

const hostileCases: Record<string, fc.Arbitrary<HostileCase>> = {
  "create-chat with a new session": fc.record({
    session: fc.record({
      id: freshId,
      title: nonEmpty(500),
      repo_owner: text(255),
      repo_name: text(255),
      branch: text(255),
      clone_url: text(2048),
      global_skill_refs: fc.array(text(), { maxLength: 3 }),
      sandbox_state: fc.dictionary(text(40), text(), { maxKeys: 3 }),
    }, { requiredKeys: ["id", "title"] }),
    chat: fc.record({ id: freshId, title: nonEmpty(500), model_id: text(255) }, { requiredKeys: ["id"] }),
  }).map((body) => ({ fn: "create-chat", body, status: 201, echo: { ...body, created: true } })),

  "create-chat in a session": fc.record({
    session: reference(() => user.sessionId),
    id: freshId,
    title: nonEmpty(500),
    model_id: text(255),
  }).map(({ session, ...chat }) => ({
    fn: "create-chat",
    body: { session_id: session.id, ...chat },
    status: session.own ? 201 : 404,
    echo: { chat: { ...chat, session_id: session.id }, created: true },
  })),

  "append-message": fc.record({
    chat: reference(() => user.chatId),
    message: fc.record({
      id: freshId,
      role: fc.constantFrom("user", "assistant"),
      parts: fc.array(fc.record({ type: nonEmpty(255), text: text() }), { minLength: 1, maxLength: 3 }),
      metadata: fc.dictionary(text(40), text(), { maxKeys: 3 }),
    }),
  }).map(({ chat, message }) => ({
    fn: "append-message",
    body: { chat_id: chat.id, message },
    status: chat.own ? 201 : 404,
    echo: { message: { id: message.id, role: message.role, message }, created: true },
  })),

  "mark-read": reference(() => user.chatId).map((chat) => ({
    fn: "mark-read",
    body: { chat_id: chat.id },
    status: chat.own ? 200 : 404,
    echo: { chat_id: chat.id, account_id: user.accountId },
  })),

  "log-workflow-step": fc.record({
    chat: reference(() => user.chatId),
    id: freshId,
    model_id: text(255),
    finish_reason: text(255),
    raw_finish_reason: text(1000),
  }).map(({ chat, id, model_id, finish_reason, raw_finish_reason }) => ({
    fn: "log-workflow-step",
    body: {
      run: { id, chat_id: chat.id, model_id, started_at: at },
      steps: [{ step_number: 1, started_at: at, finished_at: later, finish_reason, raw_finish_reason }],
    },
    status: chat.own ? 201 : 404,
    echo: { run: { id, chat_id: chat.id, model_id }, steps: [{ step_number: 1, recorded: true }], created: true },
  })),

  "push-context": fc.record({
    session: reference(() => user.sessionId),
    source: freshId,
    kind: fc.constantFrom("instructions", "skill", "file"),
    body: text(2000),
  }).map(({ session, source, kind, body }) => ({
    fn: "push-context",
    body: { session_id: session.id, resources: [{ source, kind, body }] },
    status: session.own ? 200 : 404,
    echo: { session_id: session.id, added: [source], updated: [], removed: [] },
  })),

  "pin-context": fc.record({
    chat: reference(() => user.chatId),
    sources: fc.array(nonEmpty(1024), { minLength: 1, maxLength: 3 }),
  }).map(({ chat, sources }) => ({
    fn: "pin-context",
    body: { chat_id: chat.id, sources },
    status: chat.own ? 200 : 404,
    echo: { chat_id: chat.id },
  })),

  "archive-chat": reference(() => user.chatId).map((chat) => ({
    fn: "archive-chat",
    body: { chat_id: chat.id, archived: false },
    status: chat.own ? 200 : 404,
    echo: { chat: { id: chat.id, archived_at: null } },
  })),

  "edit-message": fc.record({
    chat: reference(() => user.chatId),
    parts: fc.array(fc.record({ type: nonEmpty(255), text: text() }), { minLength: 1, maxLength: 3 }),
  }).map(({ chat, parts }) => ({
    fn: "edit-message",
    body: { chat_id: chat.id, message_id: question, message: { id: question, role: "user", parts } },
    status: chat.own ? 200 : 404,
    echo: { message: { id: question, seq: 1, message: { id: question, role: "user", parts } } },
  })),

  regenerate: fc.record({ chat: reference(() => user.chatId), message: reference(() => question) }).map((
    { chat, message },
  ) => ({
    fn: "regenerate",
    body: { chat_id: chat.id, message_id: message.id },
    status: chat.own && message.own ? 200 : 404,
    echo: { regenerated: true },
  })),

  "respond-to-approval": fc.record({
    chat: reference(() => user.chatId),
    approval_id: nonEmpty(255),
    reason: text(2000),
    approved: fc.boolean(),
  }).map(({ chat, ...answer }) => ({
    fn: "respond-to-approval",
    body: { chat_id: chat.id, message_id: question, ...answer },
    status: 404,
  })),

  "delete-queued-message": fc.record({ chat: reference(() => user.chatId), id: nonEmpty(255) }).map((
    { chat, id },
  ) => ({
    fn: "delete-queued-message",
    body: { chat_id: chat.id, message_id: id },
    status: 404,
  })),
};

describe("hostile strings in every string field", () => {
  it.each(Object.keys(hostileCases))(
    "%s: stored exactly when accepted, refused without effect otherwise",
    async (name) => {
      await fc.assert(
        fc.asyncProperty(hostileCases[name], async ({ fn, body, status, echo }) => {
          const sent = JSON.stringify(body);
          const response = await refusedWithoutEffect(fn, sent);
          expect(response.status, `${response.text.slice(0, 300)} for ${sent.slice(0, 300)}`).toBe(status);
          if (status < 300) expect(response.body).toMatchObject(echo!);
        }),
        { numRuns: 40 * soak },
      );
    },
  );
});

/** A path into a JSON value: the places a mutation can hit. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const here = prefix.length ? [prefix] : [];
  if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => paths(v, [...prefix, i]))];
  if (value && typeof value === "object") {
    return [...here, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k]))];
  }
  return here;
}

function mutate(
  body: Record<string, unknown>,
  path: (string | number)[],
  action: "set" | "delete" | "add",
  value: unknown,
) {
  const copy = structuredClone(body);
  let parent: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (action === "delete") delete parent[last];
  else if (action === "add" && parent[last] && typeof parent[last] === "object") {
    (parent[last] as Record<string, unknown>)[`extra_${String(last)}`] = value;
  } else parent[last] = value;
  return copy;
}

describe.each(functions)("%s", (fn) => {
  it("random JSON values are refused with a JSON 4xx and no effect", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (value) => {
        const response = await refusedWithoutEffect(fn, JSON.stringify(value));
        expect(response.status).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: 100 * soak },
    );
  });

  it("mutated valid bodies (wrong types, nasty values, missing and extra fields) never get a 5xx", async () => {
    const bodies = valid();
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.constantFrom("set" as const, "delete" as const, "add" as const),
        hostileValue,
        async (pick, action, value) => {
          const body = bodies[fn];
          const targets = paths(body);
          const mutated = mutate(body, targets[pick % targets.length], action, value);
          await refusedWithoutEffect(fn, JSON.stringify(mutated));
        },
      ),
      { numRuns: 200 * soak },
    );
  });

  it("truncated bodies, wrong content types and oversized values are refused", async () => {
    const body = JSON.stringify(valid()[fn]);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: body.length - 1 }), async (cut) => {
        const response = await refusedWithoutEffect(fn, body.slice(0, cut));
        expect(response.status).toBe(400);
      }),
      { numRuns: 15 * soak },
    );
    for (const type of ["text/plain", "application/xml", "", "application/jsonx"]) {
      expect((await refusedWithoutEffect(fn, body, type)).status).toBe(415);
    }
    // push-context takes bodies up to 16 MiB; every other function up to 1 MiB.
    const limit = (fn === "push-context" ? 16 : 1) * 1024 * 1024;
    const huge = JSON.stringify({ ...valid()[fn], padding: "x".repeat(limit + 1024 * 1024) });
    expect((await refusedWithoutEffect(fn, huge)).status).toBe(413);
    const manyItems = JSON.stringify({ ...valid()[fn], list: Array.from({ length: 100_000 }, () => 1) });
    expect((await refusedWithoutEffect(fn, manyItems)).status).toBe(400);
  });
});

it("the service role fuzzed on user operations is held to the same invariant", async () => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (value) => {
      const response = await post("mark-read", { token: serviceRoleKey, body: JSON.stringify(value) });
      expectWellFormed(response, JSON.stringify(value));
    }),
    { numRuns: 20 * soak },
  );
});
