// Test databases and identities. Every test file gets its own database cloned from the migrated
// template; identities are applied exactly as Supabase's REST layer applies them.
import { randomUUID } from "node:crypto";
import { afterAll, inject } from "vitest";
import { connect, type Sql, type Tx } from "../../scripts/local-stack/database.ts";

export type { Sql, Tx };

/** A fresh database for this test file, dropped after it. */
export async function useTestDatabase(): Promise<{ sql: Sql; url: string }> {
  const cluster = inject("clusterUrl");
  const name = `test_${randomUUID().replaceAll("-", "")}`;
  const admin = connect(cluster);
  await admin`create database ${admin(name)} template ${admin(inject("templateDatabase"))}`;
  const url = new URL(cluster);
  url.pathname = `/${name}`;
  const sql = connect(url.toString(), { max: 20 });
  afterAll(async () => {
    await sql.end();
    await admin`drop database if exists ${admin(name)} with (force)`;
    await admin.end();
  });
  return { sql, url: url.toString() };
}

/** Runs fn in a transaction as a signed-in user, with the claims Supabase would set. */
export function asUser<T>(sql: Sql, accountId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return asRole(sql, "authenticated", { sub: accountId, role: "authenticated", aud: "authenticated" }, fn);
}

export function asAnon<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return asRole(sql, "anon", { role: "anon" }, fn);
}

export function asServiceRole<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return asRole(sql, "service_role", { role: "service_role" }, fn);
}

async function asRole<T>(sql: Sql, role: string, claims: object, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return await sql.begin(async (tx) => {
    await tx`select set_config('role', ${role}, true), set_config('request.jwt.claims', ${
      JSON.stringify(claims)
    }, true)`;
    return await fn(tx);
  }) as T;
}

/** Moves a chat's or session's clock back, without the triggers that would stamp now() on it. */
export async function age(sql: Sql, table: "chats" | "sessions", rowId: string, fields: Record<string, string>) {
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    for (const [column, ago] of Object.entries(fields)) {
      await tx`update ${tx(table)} set ${tx(column)} = now() - ${ago}::interval where id = ${rowId}`;
    }
  });
}

/**
 * `select <call> as r` in one transaction as the service role (accountId null) or as a user, the
 * way supabase.rpc calls a SQL function; returns r. `call` is SQL text such as
 * "public.get_context($1)", with `args` as its parameters.
 */
// deno-lint-ignore no-explicit-any -- jsonb results; the tests check their shape
export function call<T = any>(sql: Sql, accountId: string | null, query: string, ...args: unknown[]): Promise<T> {
  const run = (tx: Tx) => tx.unsafe(`select ${query} as r`, args as never[]).then((rows) => rows[0].r as T);
  return accountId ? asUser(sql, accountId, run) : asServiceRole(sql, run);
}

/**
 * One test file's calls of SQL functions: `asService(query, ...args)` as the service role,
 * `asOwner(accountId, query, ...args)` as that user, both `call()` on the file's database.
 */
export function rpcOn(sql: Sql) {
  return {
    // deno-lint-ignore no-explicit-any -- jsonb results; the tests check their shape
    asService: <T = any>(query: string, ...args: unknown[]) => call<T>(sql, null, query, ...args),
    // deno-lint-ignore no-explicit-any -- as above
    asOwner: <T = any>(accountId: string, query: string, ...args: unknown[]) => call<T>(sql, accountId, query, ...args),
  };
}

/** The error `promise` rejects with (a PostgreSQL error: code, detail, message), or undefined. */
export const failure = (promise: Promise<unknown>) =>
  promise.then(() => undefined, (e) => e as { code: string; detail?: string; hint?: string; message: string });
