// One database call per request: a transaction that first takes on the caller's identity exactly as
// Supabase's REST layer does, then calls one SQL function. PostgreSQL errors become HttpErrors
// here, and only here.
import type { Database } from "../../types/database.ts";
import type { Caller } from "./auth.ts";
import { announcementsText, callText, type Deferred } from "./call-text.ts";
import { config } from "./config.ts";
import { HttpError } from "./http.ts";
import { databaseIsDown, simpleQuery } from "./pool.ts";

const { statementTimeout, lockTimeout } = config;
/** Longer than any healthy call can take: connecting, then the longest statement allowed. */
const watchdogMs = config.connectTimeoutS * 1000 + statementTimeout.ms + 1000;

type Functions = Database["public"]["Functions"];

/**
 * Calls with no change hints to send after their commit: those that change no chat (reads, and
 * follow_chats, which writes only the feed's registrations), and append_chunks, which sends its hint
 * inside its transaction. Deferring is for commits that wait for the disk while holding the notify
 * lock; a batch of chunks writes only unlogged tables, so its commit waits for nothing.
 */
const noDeferredHints: ReadonlySet<keyof Functions> = new Set<keyof Functions>([
  "list_sessions",
  "list_chats",
  "get_messages",
  "chat_changes",
  "chat_revisions",
  "chat_positions",
  "get_usage",
  "get_context",
  "follow_chats",
  "append_chunks",
]);

export interface Result {
  /** The result's `created` flag, when it has one. */
  created: boolean | null;
  /** The result's `queued` flag: a user message that waits for the agent's turn to end. */
  queued: boolean | null;
  /** The function's jsonb result as JSON text, ready to be the response body. */
  json: string;
}

/**
 * Calls one SQL function as the caller (role authenticated with their verified claims, or
 * service_role) in one transaction. Arguments are typed by the generated types.
 */
export async function rpc<F extends keyof Functions>(
  caller: Caller,
  fn: F,
  args: Functions[F]["Args"],
): Promise<Result> {
  const query = callText({
    role: caller.role,
    claims: caller.claims,
    fn,
    args: args as Record<string, unknown>,
    statementTimeout: statementTimeout.text,
    lockTimeout: lockTimeout.text,
    announce: !noDeferredHints.has(fn),
  });
  try {
    const results = await simpleQuery(query, watchdogMs) as (Result & Deferred)[][];
    const { changed, became_pending, ...result } = results[1][0];
    const hints = announcementsText({ changed, became_pending });
    // The write is committed: a hint that cannot be sent now is found by the followers' and workers' polls.
    if (hints) await simpleQuery(hints, watchdogMs).catch(() => {});
    return result;
  } catch (error) {
    const translated = fromDatabaseError(error);
    if (translated instanceof HttpError && translated.code === "database_unavailable") databaseIsDown();
    throw translated;
  }
}

const unavailable = (message: string) =>
  new HttpError(503, "database_unavailable", message, undefined, { "Retry-After": "1" });

/** Translates a PostgreSQL or driver error into the HTTP error the client should see. */
export function fromDatabaseError(error: unknown): unknown {
  if (error instanceof HttpError) return error;
  const { code = "", message = "", detail, hint } = error as {
    code?: string;
    message?: string;
    detail?: string;
    hint?: string;
  };

  // PostgREST's convention, used by our SQL functions: SQLSTATE PTxxx means HTTP status xxx.
  // The error's DETAIL, when it is a snake_case word, is its machine-readable code (cursor_ahead,
  // budget_exceeded, ...); a JSON object in its HINT (a budget's limit and the amount used) is its details.
  const explicit = /^PT([45]\d\d)$/.exec(code);
  if (explicit) {
    const named = detail && /^[a-z][a-z_]*$/.test(detail) ? detail : undefined;
    return new HttpError(Number(explicit[1]), named ?? statusCodes[explicit[1]] ?? "error", message, jsonObject(hint));
  }

  // The caller's role or a policy refused the write: to the caller, the row is not theirs to see.
  if (code === "42501") return new HttpError(404, "not_found", "no such row, or not yours");
  if (code === "23503") return new HttpError(404, "not_found", "a referenced row does not exist");
  if (code === "23505") return new HttpError(409, "conflict", "that id is already taken");
  // Values PostgreSQL refuses: bad text, numbers or dates out of range, CHECK violations.
  if (/^22/.test(code) || ["23502", "23514", "42804"].includes(code)) {
    // PostgreSQL's message says which value and why ("integer out of range"); it quotes only what
    // the caller sent.
    return new HttpError(400, "invalid_value", `a value was refused by the database: ${message.slice(0, 200)}`, {
      sqlstate: code,
    });
  }
  if (code === "57014" || code === "55P03" || code === "40P01" || code === "40001") {
    return new HttpError(503, "busy", "the database was busy; retry", undefined, { "Retry-After": "1" });
  }
  // Unreachable, restarting, out of connections, or the connection dropped mid-request.
  if (
    /^(08|57P)/.test(code) || code === "53300" ||
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|DATABASE_UNAVAILABLE|CONNECT_TIMEOUT|CONNECTION_(CLOSED|ENDED|DESTROYED))$/
      .test(code) ||
    /connection|connect/i.test(message) && !code.match(/^[0-9A-Z]{5}$/)
  ) {
    return unavailable("the database is unreachable; retry shortly");
  }
  return error;
}

function jsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (!text?.startsWith("{")) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const statusCodes: Record<string, string> = {
  "400": "invalid_request",
  "403": "forbidden",
  "404": "not_found",
  "409": "conflict",
  "413": "payload_too_large",
  "429": "too_many_requests",
};
