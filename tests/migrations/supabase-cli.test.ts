// The real Supabase CLI (npm package `supabase`, no Docker) and the local stack agree: the CLI
// applies our migrations to a Supabase-shaped database with the same result as the local stack's
// migrator, and reads the local stack's migration history as its own.
import { afterAll, expect, inject, it } from "vitest";
import { bootstrap, connect, listMigrations, recreateDatabase, type Sql } from "../../scripts/local-stack/database.ts";
import { remote, supabaseCli as supabase } from "../../scripts/local-stack/supabase-cli.ts";
const databaseUrl = (name: string) => Object.assign(new URL(inject("clusterUrl")), { pathname: `/${name}` }).toString();

const cliUrl = databaseUrl(`cli_${process.pid}`);
afterAll(async () => {
  const admin = connect(inject("clusterUrl"));
  await admin`drop database if exists ${admin(new URL(cliUrl).pathname.slice(1))} with (force)`;
  await admin.end();
});

/** What the migrations built: columns, constraints, indexes, policies, functions, triggers. */
async function fingerprint(sql: Sql) {
  return await sql`
    select 'column' as kind, table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
             coalesce(column_default, '') as def
      from information_schema.columns where table_schema = 'public'
    union all
    select 'constraint', conrelid::regclass || ' ' || pg_get_constraintdef(oid) from pg_constraint
     where connamespace = 'public'::regnamespace
    union all
    select 'index', indexdef from pg_indexes where schemaname = 'public'
    union all
    select 'policy', tablename || ' ' || policyname || ' ' || cmd || ' ' || coalesce(qual, '') || coalesce(with_check, '')
      from pg_policies where schemaname = 'public'
    union all
    select 'function', p.oid::regprocedure || ' ' || md5(p.prosrc) from pg_proc p
     where pronamespace in ('public'::regnamespace, 'private'::regnamespace)
    union all
    select 'trigger', tgrelid::regclass || ' ' || tgname from pg_trigger
     where not tgisinternal and tgrelid::regclass::text not like 'pg_%'
    order by 1, 2`;
}

it("`supabase migration up` builds the same schema as the local stack", async () => {
  await recreateDatabase(cliUrl);
  const cli = connect(cliUrl);
  const template = connect(databaseUrl(inject("templateDatabase")));
  try {
    await bootstrap(cli); // what a Supabase database has before any migration
    const { stdout, stderr } = await supabase("migration", "up", remote(cliUrl), "--yes");
    expect(stdout + stderr).toMatch(/Applying migration 20261123190000_agent_chat_schema\.sql/);
    const versions = (await cli`select version from supabase_migrations.schema_migrations order by 1`).map((r) =>
      r.version
    );
    expect(versions).toEqual((await listMigrations()).map((m) => m.version));
    const built = await fingerprint(template);
    expect(built.length).toBeGreaterThan(100);
    expect(await fingerprint(cli)).toEqual(built);
  } finally {
    await cli.end();
    await template.end();
  }
});

it("`supabase migration list` sees every migration the local stack applied as applied", async () => {
  const { stdout } = await supabase(
    "migration",
    "list",
    remote(databaseUrl(inject("templateDatabase"))),
  );
  for (const { version } of await listMigrations()) {
    expect(stdout).toMatch(new RegExp(`\`${version}\`\\s*\\|\\s*\`${version}\``));
  }
});
