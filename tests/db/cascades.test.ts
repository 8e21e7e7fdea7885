// Deleting an owner deletes everything under it, and nothing of anyone else.
import { describe, expect, it } from "vitest";
import { type Sql, useTestDatabase } from "../support/db.ts";
import { makeOwnedTree } from "../support/factories.ts";

const { sql } = await useTestDatabase();

async function rowsOf(sql: Sql, tree: Awaited<ReturnType<typeof makeOwnedTree>>) {
  const [row] = await sql`
    select (select count(*) from sessions where id = ${tree.session.id})::int as sessions,
           (select count(*) from chats where id = ${tree.chat.id})::int as chats,
           (select count(*) from chat_messages where chat_id = ${tree.chat.id})::int as messages,
           (select count(*) from chat_reads where chat_id = ${tree.chat.id})::int as reads,
           (select count(*) from workflow_runs where chat_id = ${tree.chat.id})::int as runs,
           (select count(*) from workflow_run_steps where workflow_run_id = ${tree.run.id})::int as steps,
           (select count(*) from workflow_run_usage where workflow_run_id = ${tree.run.id})::int as run_usage,
           (select count(*) from chat_usage where chat_id = ${tree.chat.id})::int as chat_usage,
           (select count(*) from session_usage where session_id = ${tree.session.id})::int as session_usage,
           (select count(*) from usage_daily where account_id = ${tree.accountId})::int as daily_usage`;
  return row;
}
const all = {
  sessions: 1,
  chats: 1,
  messages: 1,
  reads: 1,
  runs: 1,
  steps: 1,
  run_usage: 1,
  chat_usage: 1,
  session_usage: 1,
  daily_usage: 1,
};
const none = Object.fromEntries(Object.keys(all).map((k) => [k, 0]));

describe("cascades", () => {
  it("deleting a session removes its chats, messages, read markers, runs and steps", async () => {
    const doomed = await makeOwnedTree(sql), bystander = await makeOwnedTree(sql);
    await sql`delete from sessions where id = ${doomed.session.id}`;
    // The account's daily usage outlives the session: what was spent stays on the account.
    expect(await rowsOf(sql, doomed)).toEqual({ ...none, daily_usage: 1 });
    expect(await rowsOf(sql, bystander)).toEqual(all);
    expect((await sql`select 1 from accounts where id = ${doomed.accountId}`).length).toBe(1);
  });

  it("deleting an account removes everything it owns, its usage and budget included", async () => {
    const doomed = await makeOwnedTree(sql), bystander = await makeOwnedTree(sql);
    await sql`insert into account_budgets (account_id, limit_cost_micros) values (${doomed.accountId}, 1)`;
    await sql`delete from accounts where id = ${doomed.accountId}`;
    expect((await sql`select 1 from account_budgets where account_id = ${doomed.accountId}`).length).toBe(0);
    expect(await rowsOf(sql, doomed)).toEqual(none);
    expect(await rowsOf(sql, bystander)).toEqual(all);
  });

  it("deleting a chat removes its messages, read markers, runs and steps but keeps the session", async () => {
    const doomed = await makeOwnedTree(sql);
    await sql`delete from chats where id = ${doomed.chat.id}`;
    expect(await rowsOf(sql, doomed)).toEqual({ ...none, sessions: 1, session_usage: 1, daily_usage: 1 });
  });
});
