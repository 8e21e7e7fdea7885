// Bringing a database to the state `supabase db reset` leaves it in: the platform bootstrap (on the
// local stack only), the migrations in filename order recorded where the Supabase CLI records them,
// then the seed.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import postgres from "postgres";
import { bootstrapFile, migrationsDir, seedFile } from "./config.ts";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

export function connect(url: string, options: postgres.Options<Record<string, postgres.PostgresType>> = {}): Sql {
  return postgres(url, { max: 1, onnotice: () => {}, ...options });
}

/** Roles, grants, auth.uid() & co: what a Supabase database has before our migrations. */
export async function bootstrap(sql: Sql): Promise<void> {
  await sql.unsafe(await readFile(bootstrapFile, "utf8")).simple();
}

export interface Migration {
  version: string;
  name: string;
  file: string;
}

export async function listMigrations(): Promise<Migration[]> {
  const files = (await readdir(migrationsDir)).filter((f) => f.endsWith(".sql")).sort();
  return files.map((file) => {
    const match = /^(\d+)_(.+)\.sql$/.exec(file);
    if (!match) throw new Error(`migration file name must be <timestamp>_<name>.sql: ${file}`);
    return { version: match[1], name: match[2], file: path.join(migrationsDir, file) };
  });
}

/** Applies pending migrations, each in its own transaction, and returns the names applied. */
export async function migrate(sql: Sql): Promise<string[]> {
  await sql`create schema if not exists supabase_migrations`;
  await sql`
    create table if not exists supabase_migrations.schema_migrations (
      version text primary key, statements text[], name text
    )`;
  const done = new Set((await sql`select version from supabase_migrations.schema_migrations`).map((r) => r.version));
  const applied: string[] = [];
  for (const migration of await listMigrations()) {
    if (done.has(migration.version)) continue;
    const text = await readFile(migration.file, "utf8");
    await sql.begin(async (tx) => {
      await tx.unsafe(text).simple();
      await tx`
        insert into supabase_migrations.schema_migrations (version, statements, name)
        values (${migration.version}, ${[text]}, ${migration.name})`;
    }).catch((error) => {
      throw new Error(`migration ${path.basename(migration.file)} failed: ${error.message}`, { cause: error });
    });
    applied.push(path.basename(migration.file));
  }
  return applied;
}

export async function seed(sql: Sql): Promise<void> {
  await sql.unsafe(await readFile(seedFile, "utf8")).simple();
}

/** Drops and recreates the database `url` names, connected through a sibling database. */
export async function recreateDatabase(url: string, template = "template0"): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = name === "template1" ? "/postgres" : "/template1";
  const sql = connect(admin.toString());
  try {
    await sql`drop database if exists ${sql(name)} with (force)`;
    await sql`create database ${sql(name)} template ${sql(template)}`;
  } finally {
    await sql.end();
  }
}

/** Everything `supabase db reset` does, for a database that the local stack owns. */
export async function resetDatabase(url: string, { withSeed = true } = {}): Promise<string[]> {
  await recreateDatabase(url);
  const sql = connect(url);
  try {
    await bootstrap(sql);
    const applied = await migrate(sql);
    if (withSeed) await seed(sql);
    return applied;
  } finally {
    await sql.end();
  }
}
