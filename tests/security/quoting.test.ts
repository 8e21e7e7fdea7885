// Request values reach PostgreSQL inside SQL text (one simple-protocol query per request, so it
// works through Supabase's transaction pooler): functions/_shared/call-text.ts quotes them. Proved
// here against a real PostgreSQL over hostile strings, under both settings that change how string
// literals are read; then end to end, the request that used to freeze the function process.
import fc from "fast-check";
import { expect, it } from "vitest";
import { callText, literal } from "../../functions/_shared/call-text.ts";
import { useTestDatabase } from "../support/db.ts";
import { makeAccount, makeSession, uiMessage } from "../support/factories.ts";
import { post, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";
import { hostileString } from "../support/hostile.ts";
import { soak } from "../support/soak.ts";

const { sql } = await useTestDatabase();
const functionsDb = useFunctionsDatabase();

/** Any text PostgreSQL can hold: hostile pieces, and arbitrary code points without NUL or lone surrogates. */
const storableText = fc.oneof(
  hostileString({ maxLength: 5000 }),
  fc.string({ unit: "binary", maxLength: 200 }).filter((text) =>
    !text.includes("\u0000") && Buffer.from(text).toString() === text
  ),
);

for (const standardConformingStrings of ["on", "off"]) {
  it(`literal() round-trips every storable string through PostgreSQL (standard_conforming_strings = ${standardConformingStrings})`, async () => {
    const connection = await sql.reserve();
    try {
      await connection.unsafe(`set standard_conforming_strings = ${standardConformingStrings}`);
      await fc.assert(
        fc.asyncProperty(storableText, async (text) => {
          const [row] = await connection.unsafe(`select ${literal(text)}::text as text`).simple();
          expect(row.text).toBe(text);
        }),
        { numRuns: 300 * soak },
      );
      // A non-empty array of strings is a text[] (chat_ids), element for element.
      await fc.assert(
        fc.asyncProperty(fc.array(storableText, { minLength: 1, maxLength: 5 }), async (items) => {
          const [row] = await connection.unsafe(`select ${literal(items)}::text[] as items`).simple();
          expect(row.items).toEqual(items);
        }),
        { numRuns: 100 * soak },
      );
      // JSON values are quoted as their JSON text, and come back as the same value.
      await fc.assert(
        fc.asyncProperty(fc.dictionary(storableText, storableText, { maxKeys: 4 }), async (value) => {
          const [row] = await connection.unsafe(`select ${literal(value)}::jsonb as value`).simple();
          expect(row.value).toEqual(value);
        }),
        { numRuns: 100 * soak },
      );
    } finally {
      connection.release();
    }
  });
}

it("an array of strings reaches a text[] parameter intact (chat_revisions, as the follow poll calls it)", async () => {
  const session = await makeSession(sql, await makeAccount(sql));
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(hostileString({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 5 }),
      async (tails) => {
        const ids = tails.map((tail) => `${uid("q")}-${tail}`);
        await sql`insert into chats (id, session_id) select unnest(${ids}::text[]), ${session.id}`;
        const text = callText({
          role: "service_role",
          claims: { role: "service_role" },
          fn: "chat_revisions",
          args: { chat_ids: ids },
          statementTimeout: "5s",
          lockTimeout: "2s",
          announce: false,
        });
        const [, [row]] = await sql.begin((tx) => tx.unsafe(text).simple()) as unknown as [unknown, { json: string }[]];
        expect(Object.keys(JSON.parse(row.json)).sort()).toEqual([...ids].sort());
      },
    ),
    { numRuns: 50 * soak },
  );
});

it("callText() writes only plain identifiers and the two API roles into the text; everything else is a literal", () => {
  const call = (over: Partial<Parameters<typeof callText>[0]>) =>
    callText({
      role: "service_role",
      claims: { role: "service_role" },
      fn: "chat_revisions",
      args: { chat_ids: ["x"] },
      statementTimeout: "5s",
      lockTimeout: "2s",
      announce: false,
      ...over,
    });
  expect(call({})).toContain(`public.chat_revisions(chat_ids => E'{"x"}'::text[])`);
  // The signature, not the value's shape, decides: an empty list is still text[], strings for jsonb are JSON.
  expect(call({ args: { chat_ids: [] } })).toContain("chat_ids => E'{}'::text[]");
  expect(call({ fn: "append_message", args: { chat_id: "c", message: ["a"] } })).toContain(
    `message => E'["a"]'::jsonb`,
  );
  expect(() => call({ args: { no_such_argument: "x" } })).toThrow(/takes no argument/);
  expect(() => call({ fn: "no_such_function", args: {} })).toThrow(/no such SQL function/);
  // Names outside the signatures never reach the text.
  expect(() => call({ fn: "chat_revisions(); drop table chats; --" })).toThrow(/no such SQL function/);
  expect(() => call({ args: { "chat_ids => null) --": ["x"] } })).toThrow(/takes no argument/);
  expect(() => call({ role: "postgres" as "service_role" })).toThrow(/role/);
  expect(call({ statementTimeout: "5s'; drop table chats; --" })).toContain("E'5s''; drop table chats; --'");
});

it("literal() refuses NUL, the one character SQL text cannot carry", () => {
  expect(() => literal("a\u0000b")).toThrow(/NUL/);
  expect(literal(null)).toBe("null");
});

/** `$_$$_0$$_1$...`: the tags the old dollar quoting tried one by one, about 1 MB of them. */
function tagSoup(bytes: number) {
  let text = "$_$";
  for (let i = 0; text.length < bytes; i++) text += `$_${i}$`;
  return text;
}

it("quoting takes linear time: 1 MB of dollar-quote tags is quoted in milliseconds", () => {
  const text = tagSoup(1_000_000);
  const started = performance.now();
  const quoted = literal(text);
  expect(performance.now() - started).toBeLessThan(100);
  expect(quoted.length).toBe(text.length + 3);
});

it("a 1 MB message made of dollar-quote tags is answered in well under a second, and does not hold up a small request", async () => {
  const user = await userWithChat();
  const messageId = uid("tag-soup");
  const body = JSON.stringify({ chat_id: user.chatId, message: uiMessage(messageId, "user", tagSoup(1_000_000)) });
  expect(body.length).toBeGreaterThan(1_000_000);
  expect(body.length).toBeLessThan(1024 * 1024);
  const timed = async (name: string, payload: string) => {
    const started = performance.now();
    const response = await post(name, { token: user.token, body: payload });
    return { status: response.status, ms: performance.now() - started };
  };
  const big = timed("append-message", body);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const small = await timed("mark-read", JSON.stringify({ chat_id: user.chatId }));
  const { status, ms } = await big;
  // Before: 27.8 s for the big request, and the small one waited as long (the tag search was quadratic).
  expect(status).toBe(201);
  expect(ms).toBeLessThan(1000);
  expect(small.status).toBe(200);
  expect(small.ms).toBeLessThan(1000);
  const [stored] =
    await functionsDb`select parts -> 'parts' -> 0 ->> 'text' as text from chat_messages where id = ${messageId}`;
  expect(stored.text).toBe(tagSoup(1_000_000));
});
