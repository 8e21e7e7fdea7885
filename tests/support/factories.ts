// Small factories that build the rows a test needs, as the postgres superuser (no RLS).
import { randomUUID } from "node:crypto";
import type { Sql, Tx } from "./db.ts";

export const id = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export async function makeAccount(sql: Sql): Promise<string> {
  const [row] = await sql`insert into accounts (id) values (${randomUUID()}) returning id`;
  return row.id;
}

export async function makeSession(sql: Sql, accountId: string, fields: Record<string, unknown> = {}) {
  const [row] = await sql`
    insert into sessions ${sql({ id: id("session"), account_id: accountId, title: "A session", ...fields })}
    returning *`;
  return row;
}

export async function makeChat(sql: Sql, sessionId: string, fields: Record<string, unknown> = {}) {
  const [row] = await sql`insert into chats ${sql({ id: id("chat"), session_id: sessionId, ...fields })} returning *`;
  return row;
}

export function uiMessage(messageId: string, role: "user" | "assistant", text = "hello") {
  return { id: messageId, role, parts: [{ type: "text", text }] };
}

export async function makeMessage(sql: Sql | Tx, chatId: string, role: "user" | "assistant" = "user", text = "hello") {
  const messageId = id("msg");
  const [row] = await sql`
    insert into chat_messages (id, chat_id, role, parts)
    values (${messageId}, ${chatId}, ${role}, ${sql.json(uiMessage(messageId, role, text))})
    returning *`;
  return row;
}

export async function makeRun(sql: Sql, chatId: string, fields: Record<string, unknown> = {}) {
  const [row] = await sql`
    insert into workflow_runs ${sql({ id: id("run"), chat_id: chatId, started_at: new Date(), ...fields })}
    returning *`;
  return row;
}

export async function makeStep(sql: Sql, runId: string, stepNumber = 1) {
  const started = new Date(Date.now() - 1500);
  const [row] = await sql`
    insert into workflow_run_steps ${
    sql({
      workflow_run_id: runId,
      step_number: stepNumber,
      started_at: started,
      finished_at: new Date(started.getTime() + 1500),
      duration_ms: 1500,
    })
  } returning *`;
  return row;
}

/**
 * A chat in a session of an account: a new account, or `accountId`'s; `fields` are the chat's
 * columns. Every test file that needs "a chat someone owns" makes it here.
 */
export async function ownedChat(
  sql: Sql,
  { accountId, fields = {} }: { accountId?: string; fields?: Record<string, unknown> } = {},
) {
  const owner = accountId ?? await makeAccount(sql);
  const session = await makeSession(sql, owner);
  const chat = await makeChat(sql, session.id, fields);
  return { accountId: owner, session, chat, sessionId: session.id as string, chatId: chat.id as string };
}

/** One account owning a session, a chat, a message, a read marker, a run and a step. */
export async function makeOwnedTree(sql: Sql) {
  const accountId = await makeAccount(sql);
  const session = await makeSession(sql, accountId);
  const chat = await makeChat(sql, session.id);
  const message = await makeMessage(sql, chat.id);
  await sql`insert into chat_reads (account_id, chat_id) values (${accountId}, ${chat.id})`;
  const run = await makeRun(sql, chat.id);
  const step = await makeStep(sql, run.id);
  return { accountId, session, chat, message, run, step };
}
