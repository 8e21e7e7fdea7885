// The functions' pool takes the connection freed last (functions/_shared/pool.ts): once a burst has
// opened every connection, calls one at a time stay on one backend instead of rotating over all of
// them, each gone cold since its last call.
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { uiMessage } from "../support/factories.ts";
import { timedPost, userJwt } from "../support/functions.ts";

let stack: ThrowawayStack;
let token: string;

beforeAll(async () => {
  stack = await throwawayStack({ DB_POOL_MAX: "4" });
  token = await userJwt(crypto.randomUUID());
  const created = await timedPost(stack.apiUrl, token, "create-chat", {
    session: { title: "lanes" },
    chat: { id: "lanes-chat" },
  });
  expect(created.status).toBe(201);
});
afterAll(() => stack?.stop());

const append = (id: string) =>
  timedPost(stack.apiUrl, token, "append-message", { chat_id: "lanes-chat", message: uiMessage(id, "user", id) });

/** The functions' backends, with when each last started a query. */
const backends = () =>
  stack.sql`
    select pid, query_start from pg_stat_activity
     where usename = 'edge_functions' and backend_type = 'client backend'`;

it("after a burst has opened every connection, calls one at a time use one backend", async () => {
  const burst = await Promise.all(Array.from({ length: 24 }, (_, i) => append(`burst-${i}`)));
  expect(burst.every((r) => r.status === 201)).toBe(true);
  expect((await backends()).length).toBe(4);

  const [{ after }] = await stack.sql`select clock_timestamp() as after`;
  for (let i = 0; i < 12; i++) expect((await append(`one-at-a-time-${i}`)).status).toBe(201);
  const used = (await backends()).filter((b) => b.query_start > after);
  expect(used.length).toBe(1);
});
