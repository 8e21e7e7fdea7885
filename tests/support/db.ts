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
