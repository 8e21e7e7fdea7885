// Bringing a database to the state `supabase db reset` leaves it in: the platform bootstrap (on the
// local stack only), the migrations in filename order recorded where the Supabase CLI records them,
// then the seed. prepareDatabase is the one way every part of the project does it: npm start,
// db:reset, the tests' template, typegen, throwaway stacks and the benchmark.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import postgres from "postgres";
import { bootstrapFile, functionsDatabaseUrl, migrationsDir, seedFile } from "./config.ts";

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

/**
 * Applies pending migrations, each in its own transaction, and returns the names applied.
 * `afterEach` runs after each one is committed (the migration fixtures test inserts rows there).
 */
export async function migrate(sql: Sql, afterEach?: (migration: Migration) => Promise<void>): Promise<string[]> {
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
    await afterEach?.(migration);
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

export interface PrepareOptions {
  /** Run supabase/seed.sql if this run applied the database's first migrations (npm start, db:reset). */
  seed?: boolean;
  /** Called after each migration is applied. */
  afterMigration?: (sql: Sql, migration: Migration) => Promise<void>;
}

export interface Prepared {
  /** The bootstrap created the Supabase roles and auth schema (a new database). */
  bootstrapped: boolean;
  migrated: string[];
  seeded: boolean;
  /**
   * The URL the edge functions connect with: the functions' own login role (NOINHERIT, may only
   * switch to authenticated or service_role) where the bootstrap made it, else `url` as given.
   */
  functionsUrl: string;
}

/**
 * Brings the platform bootstrap up to date, applies pending migrations, and seeds if asked and this
 * is the first run (no migration recorded yet). The bootstrap is idempotent and runs every time, so
 * a database made by an older version of it gains what newer migrations rely on; it is skipped on a
 * database that has Supabase's own auth schema (one started by the Supabase CLI), which must not be
 * touched.
 */
export async function prepareDatabase(
  url: string,
  { seed: withSeed = false, afterMigration }: PrepareOptions = {},
): Promise<Prepared> {
  const sql = connect(url);
  try {
    const [{ hasAuth, isSupabase, hasHistory }] = await sql`
      select to_regprocedure('auth.uid()') is not null as "hasAuth",
             to_regclass('auth.users') is not null as "isSupabase",
             to_regclass('supabase_migrations.schema_migrations') is not null as "hasHistory"`;
    const firstRun = !hasHistory ||
      (await sql`select count(*)::int as n from supabase_migrations.schema_migrations`)[0].n === 0;
    if (!isSupabase) await bootstrap(sql);
    const migrated = await migrate(sql, afterMigration && ((migration) => afterMigration(sql, migration)));
    const seeded = withSeed && firstRun;
    if (seeded) await seed(sql);
    const functionsUrl = functionsDatabaseUrl(url);
    const [{ hasLogin }] = await sql`
      select exists (select from pg_roles where rolname = ${new URL(functionsUrl).username}) as "hasLogin"`;
    return { bootstrapped: !isSupabase && !hasAuth, migrated, seeded, functionsUrl: hasLogin ? functionsUrl : url };
  } finally {
    await sql.end();
  }
}

/** Everything `supabase db reset` does, for a database that the local stack owns. */
export async function resetDatabase(url: string): Promise<string[]> {
  await recreateDatabase(url);
  return (await prepareDatabase(url, { seed: true })).migrated;
}
