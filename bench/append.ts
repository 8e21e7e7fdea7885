// Workloads 1 and 2: append-message over HTTP (wrk) and exactly the same database work sent straight
// to PostgreSQL (pgbench), at the same concurrency, on fresh chats of the same shape.
import { randomUUID } from "node:crypto";
import { callText, literal } from "../functions/_shared/call-text.ts";
import { userJwt } from "../scripts/local-stack/config.ts";
import type { Sql } from "../scripts/local-stack/database.ts";
import { type CpuPerRequest, measureCpu, type Measured } from "./cpu.ts";
import { type LoadResult, pgbench, wrk } from "./tools.ts";

export type Shape = "a" | "b";

export interface Bench {
  sql: Sql;
  databaseUrl: string;
  apiUrl: string;
  seconds: number;
  /** The processes whose CPU is measured apart (when the benchmark started them). */
  measured?: Measured;
}

/** An account with one session and `count` chats named `<prefix>0..`. */
export async function makeChats(sql: Sql, prefix: string, count: number) {
  const accountId = randomUUID();
  const sessionId = `${prefix}session`;
  await sql`insert into accounts (id) values (${accountId})`;
  await sql`insert into sessions (id, account_id, title) values (${sessionId}, ${accountId}, 'benchmark')`;
  await sql`
    insert into chats (id, session_id)
    select ${prefix} || i, ${sessionId} from generate_series(0, ${count - 1}) i`;
  return { accountId, token: await userJwt(accountId, 24 * 3600) };
}

/**
 * Every chat that is pending, running or stopping (or, given a session, every chat of it) becomes idle
 * with no lease: what earlier runs left, so that a run's claims and workers see only its own chats.
 */
export async function settleChats(sql: Sql, sessionId?: string): Promise<void> {
  await sql`
    update chats set status = 'idle', active_stream_id = null, runner_id = null, heartbeat_at = null
     where ${
    sessionId === undefined ? sql`status in ('pending', 'running', 'stopping')` : sql`session_id = ${sessionId}`
  }`;
}

/** What the function sends for one append, with pgbench variables where the ids vary. */
export function appendScript(accountId: string, chat: string): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: "supabase-demo",
    sub: accountId,
    role: "authenticated",
    aud: "authenticated",
    iat: now,
    exp: now + 86400,
  };
  const text = callText({
    role: "authenticated",
    claims,
    fn: "append_message",
    args: {
      chat_id: chat,
      message: { id: "pgb-:client_id-:r", role: "user", parts: [{ type: "text", text: "benchmark message" }] },
    },
    statementTimeout: "5s",
    lockTimeout: "2s",
    announce: true, // as functions/_shared/db.ts sends append_message: its hints go out after the commit
  });
  return `\\set r random(1, 1000000000000)\n${oneQuery(text)};\n`;
}

/**
 * The bare call: the caller's identity (`set_config` of role and claims, as every caller of a SQL
 * function over PostgREST has) and append_message, in one round trip, and nothing else: no timeouts,
 * no hint deferral, no commit of its own, no second transaction. What the API's text adds to it is
 * the price of the API before HTTP.
 */
export function bareAppendScript(accountId: string, chat: string): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: "supabase-demo", sub: accountId, role: "authenticated", aud: "authenticated", iat: now };
  const message = { id: "pgb-:client_id-:r", role: "user", parts: [{ type: "text", text: "benchmark message" }] };
  return `\\set r random(1, 1000000000000)\n` +
    `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${
      literal(claims)
    }, true) \\; ` +
    `select public.append_message(${literal(chat, "text")}, ${literal(message, "jsonb")}::jsonb);\n`;
}

/**
 * `text` as one pgbench command: pgbench sends `a \; b` as one query, as the function does; a bare
 * `;` would end the command there, and the call would run in a transaction of its own, without the
 * identity switch. The values in these scripts hold no "; ", so every one is a statement boundary.
 */
export function oneQuery(text: string): string {
  if (!text.includes("; select (result ")) throw new Error("oneQuery: callText's statement boundary moved");
  return text.replaceAll("; ", " \\; ");
}

export interface AppendRun {
  shape: Shape;
  concurrency: number;
  http: LoadResult;
  sql: LoadResult;
  /** The bare call (bareAppendScript): what a caller of the SQL function pays at least. */
  bare: LoadResult;
  ratio: number;
  /** HTTP over the bare call. */
  bareRatio: number;
  /** Rows found afterwards in the chats each side wrote: must equal its completed requests. */
  stored: { http: number; sql: number; bare: number };
  cpu: { http: CpuPerRequest; sql: CpuPerRequest };
}

/** `label` names this run's chats apart from every other run's (round and commit mode). */
export async function appendRun(bench: Bench, shape: Shape, concurrency: number, label: string): Promise<AppendRun> {
  const chats = shape === "a" ? concurrency : 1;
  const httpPrefix = `http-${shape}${concurrency}-${label}-`, sqlPrefix = `pgb-${shape}${concurrency}-${label}-`;
  const barePrefix = `bare-${shape}${concurrency}-${label}-`;
  const httpOwner = await makeChats(bench.sql, httpPrefix, chats);
  const sqlOwner = await makeChats(bench.sql, sqlPrefix, chats);
  const bareOwner = await makeChats(bench.sql, barePrefix, chats);

  const httpCpu = measureCpu(bench.measured);
  const http = await wrk(
    `${bench.apiUrl}/functions/v1/append-message`,
    {
      operation: "append",
      token: httpOwner.token,
      chatPrefix: shape === "a" ? httpPrefix : `${httpPrefix}0`,
      shape,
      tag: `${httpPrefix}m`,
    },
    concurrency,
    bench.seconds,
  );
  const httpCpuPerRequest = httpCpu(http.requests);

  // pgbench numbers its clients 0..C-1: in shape a each client is the one writer of its own chat.
  const chat = shape === "a" ? `${sqlPrefix}:client_id` : `${sqlPrefix}0`;
  const script = appendScript(sqlOwner.accountId, chat);
  const sqlCpu = measureCpu(bench.measured);
  const sqlResult = await pgbench(bench.databaseUrl, script, concurrency, bench.seconds);
  const sqlCpuPerRequest = sqlCpu(sqlResult.requests);
  const bareChat = shape === "a" ? `${barePrefix}:client_id` : `${barePrefix}0`;
  const bare = await pgbench(
    bench.databaseUrl,
    bareAppendScript(bareOwner.accountId, bareChat),
    concurrency,
    bench.seconds,
  );

  const count = async (prefix: string) =>
    (await bench.sql`select count(*)::int as n from chat_messages where chat_id like ${prefix + "%"}`)[0].n;
  return {
    shape,
    concurrency,
    http,
    sql: sqlResult,
    bare,
    ratio: Math.round(http.rps / sqlResult.rps * 100) / 100,
    bareRatio: Math.round(http.rps / bare.rps * 100) / 100,
    stored: { http: await count(httpPrefix), sql: await count(sqlPrefix), bare: await count(barePrefix) },
    cpu: { http: httpCpuPerRequest, sql: sqlCpuPerRequest },
  };
}
