// Property-based fuzzing of every function's body: whatever arrives, the answer is a JSON 2xx or 4xx
// in the documented shape (never a 5xx, never a hang), and a refused request changes nothing.
// corpus.json keeps inputs that once broke an invariant (or were feared to), replayed on every run.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { soak } from "../support/soak.ts";
import { post, serviceRoleKey, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";

const sql = useFunctionsDatabase();
const functions = ["create-chat", "append-message", "mark-read", "log-workflow-step"] as const;
type Fn = typeof functions[number];
let user: Awaited<ReturnType<typeof userWithChat>>;

beforeAll(async () => {
  user = await userWithChat();
});

/** Everything the fuzzed user owns, as one comparable value. */
async function snapshot() {
  const [row] = await sql`
    select (select count(*) from sessions where account_id = ${user.accountId})::int as sessions,
           (select json_agg(c order by c.id) from chats c join sessions s on s.id = c.session_id
             where s.account_id = ${user.accountId})::text as chats,
           (select count(*) from chat_messages where chat_id = ${user.chatId})::int as messages,
           (select count(*) from chat_reads where chat_id = ${user.chatId})::int as reads,
           (select count(*) from workflow_runs where chat_id = ${user.chatId})::int as runs`;
  return row;
}

async function send(fn: Fn, body: string, contentType = "application/json") {
  const token = fn === "log-workflow-step" ? serviceRoleKey : user.token;
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
  const corpus: { fn: Fn; why: string; body: string }[] = JSON.parse(
    readFileSync(new URL("./corpus.json", import.meta.url), "utf8"),
  );
  it.each(corpus)("$fn: $why", async ({ fn, body }) => {
    const response = await refusedWithoutEffect(
      fn,
      body.replaceAll("$CHAT", user.chatId).replace("$DEEP", deep(5000)),
    );
    expect(response.status).toBeGreaterThanOrEqual(400);
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
});

const nasty = fc.oneof(
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary" }),
  fc.constantFrom("\u0000", "\ud800", "\udfff", "\u202e\u200f", "x".repeat(300), "", " ", "null", "1e400"),
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 1, -0, 1e308),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue(), { maxLength: 5 }),
  fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
);

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
        nasty,
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
    const huge = JSON.stringify({ ...valid()[fn], padding: "x".repeat(2 * 1024 * 1024) });
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
