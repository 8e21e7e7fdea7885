// Clients of the functions as an app would hold them: supabase-js with a user's or the service
// role's token, plus raw HTTP for what supabase-js would never send.
import { createClient, FunctionsHttpError } from "@supabase/supabase-js";
import { randomUUID } from "node:crypto";
import type { z } from "zod";
import WebSocket from "ws";
import { afterAll, inject } from "vitest";
import { apiKeys, signJwt, userJwt } from "../../scripts/local-stack/config.ts";
import { connect } from "../../scripts/local-stack/database.ts";
import {
  appendMessageResponse,
  archiveChatResponse,
  claimChatsResponse,
  createChatResponse,
  getContextResponse,
  getMessagesResponse,
  heartbeatResponse,
  listChatsResponse,
  listSessionsResponse,
  logWorkflowStepResponse,
  markReadResponse,
  pinContextResponse,
  pushContextResponse,
  setBudgetResponse,
  stopChatResponse,
  usageResponse,
} from "../../functions/_shared/schemas/mod.ts";
import {
  appendChunksResponse,
  deleteQueuedMessageResponse,
  editMessageResponse,
  promoteQueuedMessageResponse,
  regenerateResponse,
  respondToApprovalResponse,
} from "../../functions/_shared/schemas/mod.ts";
import { id as uid } from "./factories.ts";

export { uid };

export const apiUrl = inject("apiUrl");
const { anonKey, serviceRoleKey } = await apiKeys();
export { anonKey, serviceRoleKey, signJwt, userJwt };

/** The functions' database, for asserting on what they wrote. */
export function useFunctionsDatabase() {
  const sql = connect(inject("functionsDbUrl"), { max: 4 });
  afterAll(() => sql.end());
  return sql;
}

/** A row as the functions return it (to_jsonb), to compare an answer with what was stored. */
export async function storedRow(sql: ReturnType<typeof connect>, table: string, id: string) {
  const [row] = await sql`select to_jsonb(t) as row from ${sql(table)} t where id = ${id}`;
  return row?.row;
}

export function clientWith(token: string, url = apiUrl) {
  return createClient(url, anonKey, {
    global: { headers: { Authorization: `Bearer ${token}` } },
    // Node 20 has no built-in WebSocket for supabase-js's realtime client (unused here, but built).
    realtime: { transport: WebSocket as never },
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
}

/** A new user: their account id and a supabase-js client signed in as them. */
export async function newUser() {
  const accountId = randomUUID();
  const token = await userJwt(accountId);
  return { accountId, token, client: clientWith(token) };
}

export const service = clientWith(serviceRoleKey);

export interface Outcome<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** Each function's response schema: invoke() parses every 2xx answer with it. */
const responses = {
  "create-chat": createChatResponse,
  "append-message": appendMessageResponse,
  "mark-read": markReadResponse,
  "log-workflow-step": logWorkflowStepResponse,
  "claim-chats": claimChatsResponse,
  heartbeat: heartbeatResponse,
  "stop-chat": stopChatResponse,
  "set-budget": setBudgetResponse,
  "push-context": pushContextResponse,
  "pin-context": pinContextResponse,
  "archive-chat": archiveChatResponse,
  "append-chunks": appendChunksResponse,
  "edit-message": editMessageResponse,
  regenerate: regenerateResponse,
  "respond-to-approval": respondToApprovalResponse,
  "delete-queued-message": deleteQueuedMessageResponse,
  "promote-queued-message": promoteQueuedMessageResponse,
};

/** The GET functions' response schemas: read() parses every 2xx answer with it. */
const readResponses = {
  usage: usageResponse,
  "get-context": getContextResponse,
  "list-chats": listChatsResponse,
  "list-sessions": listSessionsResponse,
  "get-messages": getMessagesResponse,
};
export type FunctionName = keyof typeof responses;

/**
 * Calls a function through supabase-js and returns the status and parsed body, success or not. A
 * success must match the function's response schema (functions/_shared/schemas/mod.ts), so a response
 * that drifts from what clients are told to expect fails the test that received it.
 */
export async function invoke<F extends FunctionName>(
  client: ReturnType<typeof clientWith>,
  name: F,
  body: unknown,
): Promise<Outcome<z.infer<(typeof responses)[F]>>> {
  const { data, error, response } = await client.functions.invoke(name, { body: body as Record<string, unknown> });
  if (error instanceof FunctionsHttpError) {
    const res = error.context as Response;
    return { status: res.status, body: await res.json() };
  }
  if (error) throw error;
  return { status: response!.status, body: responses[name].parse(data) as z.infer<(typeof responses)[F]> };
}

/** Calls a GET function through supabase-js with query-string parameters, success or not. */
export async function read<F extends keyof typeof readResponses>(
  client: ReturnType<typeof clientWith>,
  name: F,
  query: Record<string, string | number> = {},
): Promise<Outcome<z.infer<(typeof readResponses)[F]>>> {
  const search = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  const { data, error, response } = await client.functions.invoke(search ? `${name}?${search}` : name, {
    method: "GET",
  });
  if (error instanceof FunctionsHttpError) {
    const res = error.context as Response;
    return { status: res.status, body: await res.json() };
  }
  if (error) throw error;
  return { status: response!.status, body: readResponses[name].parse(data) as z.infer<(typeof readResponses)[F]> };
}

/** Raw HTTP, for malformed requests. */
export async function post(name: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  if (!headers.has("Content-Type") && init.body !== undefined) headers.set("Content-Type", "application/json");
  const response = await fetch(`${apiUrl}/functions/v1/${name}`, { method: "POST", ...init, headers });
  const text = await response.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** POSTs `body` as JSON to a function of the stack at `url` (a throwaway one, say), timing the answer. */
export async function timedPost(url: string, token: string, name: string, body: unknown) {
  const started = Date.now();
  const response = await fetch(`${url}/functions/v1/${name}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: await response.json(), ms: Date.now() - started };
}

export type UserWithChat = Awaited<ReturnType<typeof userWithChat>>;

/** A user with a session and a chat, created through create-chat. */
export async function userWithChat() {
  const user = await newUser();
  const sessionId = uid("session"), chatId = uid("chat");
  const { status } = await invoke(user.client, "create-chat", {
    session: { id: sessionId, title: "Test session" },
    chat: { id: chatId },
  });
  if (status !== 201) throw new Error(`could not create a chat: ${status}`);
  return { ...user, sessionId, chatId };
}
