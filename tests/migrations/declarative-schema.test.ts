// supabase/schemas/*.sql (the schema as it is now, one file per domain) and supabase/migrations (how
// every database got there) describe the same database. One database is built from the migrations (the
// tests' template), another from the platform bootstrap followed by the schema files in order, and the
// two catalogs are compared object by object, both ways: an object, column, grant or comment that only
// one side has, or that differs, is listed by name. The fix is a new migration or an edit of the schema
// file, whichever side is behind (CONTRIBUTING.md).
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, expect, inject, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";
import { bootstrap, connect, recreateDatabase, type Sql } from "../../scripts/local-stack/database.ts";

const schemasDir = path.join(projectRoot, "supabase/schemas");
const databaseUrl = (name: string) => Object.assign(new URL(inject("clusterUrl")), { pathname: `/${name}` }).toString();
const declarativeUrl = databaseUrl(`declarative_${process.pid}`);

afterAll(async () => {
  const admin = connect(inject("clusterUrl"));
  await admin`drop database if exists ${admin(new URL(declarativeUrl).pathname.slice(1))} with (force)`;
  await admin.end();
});

/** A catalog entry: what kind of object and its name, then what is compared about it. */
type Catalog = Map<string, Record<string, string | string[] | null>>;

/** A role's name in a privilege or a policy: 0 is PUBLIC. */
const roleName = (oid: string) => `case ${oid} when 0 then 'public' else ${oid}::regrole::text end`;

/** An ACL as sorted "grantee privilege" lines, so the order of GRANT statements does not matter. */
const grants = (acl: string) => `
  (select jsonb_agg(g order by g)
     from (select format('%s %s%s', ${roleName("a.grantee")}, a.privilege_type,
                         case when a.is_grantable then ' with grant option' end) as g
             from aclexplode(${acl}) a) granted)`;

/**
 * Everything the migrations (or the schema files) can create, outside the system schemas and the
 * Supabase CLI's migration history: schemas, tables and other relations with their columns,
 * constraints, indexes, triggers, policies, rules and types, functions, grants (a missing ACL
 * reads as the default it stands for), default privileges, extensions, publications and comments.
 * Objects that belong to an extension are left to the extension's own entry.
 */
const catalogQuery = `
  with ns as (
    select oid, nspname from pg_namespace
     where nspname not in ('pg_catalog', 'information_schema', 'supabase_migrations') and nspname !~ '^pg_(toast|temp)'
  ), extension_member as (
    select classid, objid from pg_depend where deptype = 'e'
  ), rel as (
    select c.*, ns.nspname, format('%I.%I', ns.nspname, c.relname) as name
      from pg_class c join ns on ns.oid = c.relnamespace
     where not exists (select from extension_member e where e.classid = 'pg_class'::regclass and e.objid = c.oid)
  )
  -- Schemas
  select format('schema %I', ns.nspname) as key, jsonb_build_object(
           'owner', n.nspowner::regrole::text,
           'comment', obj_description(n.oid, 'pg_namespace'),
           'grants', ${grants("coalesce(n.nspacl, acldefault('n', n.nspowner))")}) as attrs
    from ns join pg_namespace n on n.oid = ns.oid
  union all
  -- Tables, views, sequences, composite types
  select format('%s %s', case r.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
                  when 'm' then 'materialized view' when 'S' then 'sequence' when 'f' then 'foreign table'
                  when 'c' then 'type' end, r.name),
         jsonb_build_object(
           'kind', r.relkind,
           'persistence', case r.relpersistence when 'u' then 'unlogged' when 't' then 'temporary' else 'logged' end,
           'row level security', r.relrowsecurity::text,
           'forced row level security', r.relforcerowsecurity::text,
           'options', r.reloptions::text,
           'view definition', case when r.relkind in ('v', 'm') then pg_get_viewdef(r.oid) end,
           'owner', r.relowner::regrole::text,
           'comment', obj_description(r.oid, 'pg_class'),
           'grants', ${
  grants(`coalesce(r.relacl, acldefault(case r.relkind when 'S' then 's' else 'r' end::"char", r.relowner))`)
})
    from rel r where r.relkind in ('r', 'p', 'v', 'm', 'S', 'f', 'c')
  union all
  -- Columns, numbered among the columns that exist (a dropped column leaves a hole in attnum)
  select format('column %s.%I', r.name, a.attname), jsonb_build_object(
           'position', (row_number() over (partition by a.attrelid order by a.attnum))::text,
           'type', format_type(a.atttypid, a.atttypmod),
           'not null', a.attnotnull::text,
           'default', pg_get_expr(d.adbin, d.adrelid),
           'identity', nullif(a.attidentity, ''),
           'generated', nullif(a.attgenerated, ''),
           'collation', case when a.attcollation <> t.typcollation then a.attcollation::regcollation::text end,
           'comment', col_description(a.attrelid, a.attnum),
           'grants', ${grants("a.attacl")})
    from rel r
    join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
    join pg_type t on t.oid = a.atttypid
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
   where r.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
  union all
  -- Constraints of tables and of domains
  select format('constraint %s.%I', coalesce(r.name, format_type(co.contypid, null)), co.conname),
         jsonb_build_object(
           'definition', pg_get_constraintdef(co.oid),
           'comment', obj_description(co.oid, 'pg_constraint'))
    from pg_constraint co
    join ns on ns.oid = co.connamespace
    left join rel r on r.oid = co.conrelid
   where co.conrelid = 0 or r.oid is not null
  union all
  select format('index %s', r.name), jsonb_build_object(
           'definition', pg_get_indexdef(r.oid),
           'comment', obj_description(r.oid, 'pg_class'))
    from rel r where r.relkind in ('i', 'I')
  union all
  select format('trigger %s.%I', r.name, tg.tgname), jsonb_build_object(
           'definition', pg_get_triggerdef(tg.oid),
           'enabled', tg.tgenabled::text,
           'comment', obj_description(tg.oid, 'pg_trigger'))
    from pg_trigger tg join rel r on r.oid = tg.tgrelid
   where not tg.tgisinternal
  union all
  select format('policy %I on %s', po.polname, r.name), jsonb_build_object(
           'command', po.polcmd::text,
           'permissive', po.polpermissive::text,
           'roles', (select jsonb_agg(${roleName("ro")} order by ${roleName("ro")}) from unnest(po.polroles) ro),
           'using', pg_get_expr(po.polqual, po.polrelid),
           'with check', pg_get_expr(po.polwithcheck, po.polrelid),
           'comment', obj_description(po.oid, 'pg_policy'))
    from pg_policy po join rel r on r.oid = po.polrelid
  union all
  select format('rule %I on %s', ru.rulename, r.name), jsonb_build_object(
           'definition', pg_get_ruledef(ru.oid),
           'comment', obj_description(ru.oid, 'pg_rewrite'))
    from pg_rewrite ru join rel r on r.oid = ru.ev_class
   where ru.rulename <> '_RETURN'
  union all
  -- Domains, enums, ranges
  select format('type %I.%I', ns.nspname, t.typname), jsonb_build_object(
           'kind', t.typtype::text,
           'base type', case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end,
           'not null', t.typnotnull::text,
           'default', t.typdefault,
           'labels', (select jsonb_agg(e.enumlabel order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid),
           'owner', t.typowner::regrole::text,
           'comment', obj_description(t.oid, 'pg_type'))
    from pg_type t join ns on ns.oid = t.typnamespace
   where t.typtype in ('d', 'e', 'r', 'm')
     and not exists (select from extension_member e where e.classid = 'pg_type'::regclass and e.objid = t.oid)
  union all
  select format('function %I.%I(%s)', ns.nspname, p.proname,
                (select string_agg(format_type(x, null), ',' order by i)
                   from unnest(p.proargtypes) with ordinality args(x, i))),
         jsonb_build_object(
           'kind', p.prokind::text,
           'arguments', pg_get_function_arguments(p.oid),
           'return type', pg_get_function_result(p.oid),
           'language', l.lanname,
           'body', p.prosrc,
           'volatility', p.provolatile::text,
           'security definer', p.prosecdef::text,
           'strict', p.proisstrict::text,
           'leakproof', p.proleakproof::text,
           'parallel', p.proparallel::text,
           'cost', p.procost::text,
           'rows', p.prorows::text,
           'config', (select jsonb_agg(c order by c) from unnest(p.proconfig) c),
           'owner', p.proowner::regrole::text,
           'comment', obj_description(p.oid, 'pg_proc'),
           'grants', ${grants("coalesce(p.proacl, acldefault('f', p.proowner))")})
    from pg_proc p
    join ns on ns.oid = p.pronamespace
    join pg_language l on l.oid = p.prolang
   where not exists (select from extension_member e where e.classid = 'pg_proc'::regclass and e.objid = p.oid)
  union all
  select format('default privileges of %s%s on %s', d.defaclrole::regrole::text,
                case when d.defaclnamespace = 0 then '' else format(' in schema %I', ns.nspname) end,
                case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions'
                  when 'T' then 'types' when 'n' then 'schemas' end),
         jsonb_build_object('grants', ${grants("d.defaclacl")})
    from pg_default_acl d left join pg_namespace ns on ns.oid = d.defaclnamespace
  union all
  select format('extension %I', x.extname), jsonb_build_object(
           'schema', x.extnamespace::regnamespace::text, 'version', x.extversion)
    from pg_extension x
  union all
  select format('publication %I', pb.pubname), jsonb_build_object(
           'all tables', pb.puballtables::text,
           'operations', concat_ws(', ', case when pb.pubinsert then 'insert' end, case when pb.pubupdate then 'update' end,
                                  case when pb.pubdelete then 'delete' end, case when pb.pubtruncate then 'truncate' end),
           'owner', pb.pubowner::regrole::text)
    from pg_publication pb
  union all
  select format('publication %I table %I.%I', pt.pubname, pt.schemaname, pt.tablename), jsonb_build_object(
           'columns', pt.attnames::text, 'row filter', pt.rowfilter)
    from pg_publication_tables pt
`;

async function catalog(sql: Sql): Promise<Catalog> {
  const rows = await sql.begin("read only", async (tx) => {
    await tx`set local search_path = ''`; // every name printed schema-qualified
    return await tx.unsafe<{ key: string; attrs: Record<string, string | string[] | null> }[]>(catalogQuery);
  });
  const entries: Catalog = new Map();
  for (const { key, attrs } of rows) {
    if (entries.has(key)) throw new Error(`two catalog entries are named ${key}`);
    entries.set(key, attrs);
  }
  return entries;
}

/** What differs between the two catalogs, one line per object and attribute. */
function differences(migrations: Catalog, schemas: Catalog): string[] {
  const found: string[] = [];
  const keys = [...new Set([...migrations.keys(), ...schemas.keys()])].sort();
  for (const key of keys) {
    const migrated = migrations.get(key), declared = schemas.get(key);
    if (!declared) found.push(`${key}: in the migrations, not in supabase/schemas`);
    else if (!migrated) found.push(`${key}: in supabase/schemas, never created by a migration`);
    else {
      for (const attr of Object.keys(migrated)) {
        const a = migrated[attr], b = declared[attr];
        const differ = attr.endsWith("s") ? "differ" : "differs";
        if (JSON.stringify(a) !== JSON.stringify(b)) found.push(`${key}: ${attr} ${differ} (${explain(a, b)})`);
      }
    }
  }
  return found;
}

/** A difference a reader can act on without printing two whole function bodies. */
function explain(migrated: string | string[] | null, declared: string | string[] | null): string {
  if (Array.isArray(migrated) || Array.isArray(declared)) {
    const a = new Set(migrated ?? []), b = new Set(declared ?? []);
    const only = (x: Set<string>, y: Set<string>) => [...x].filter((v) => !y.has(v)).join(", ") || "nothing";
    return `migrations only: ${only(a, b)}; schemas only: ${only(b, a)}`;
  }
  if (migrated === null || declared === null || (!migrated.includes("\n") && !declared.includes("\n"))) {
    return `migrations: ${JSON.stringify(migrated)}, schemas: ${JSON.stringify(declared)}`;
  }
  const a = migrated.split("\n"), b = declared.split("\n");
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line === -1 ? a.length : line;
  return `line ${at + 1}: migrations ${JSON.stringify(a[at] ?? "<end>")}, schemas ${JSON.stringify(b[at] ?? "<end>")}`;
}

it("supabase/schemas builds exactly the database the migrations build", async () => {
  const files = (await readdir(schemasDir)).filter((f) => f.endsWith(".sql")).sort();
  expect(files.length, "supabase/schemas holds the schema files").toBeGreaterThan(0);

  await recreateDatabase(declarativeUrl);
  const declarative = connect(declarativeUrl);
  const template = connect(databaseUrl(inject("templateDatabase")));
  try {
    await bootstrap(declarative); // what a Supabase database has before any of ours
    for (const file of files) {
      const text = await readFile(path.join(schemasDir, file), "utf8");
      await declarative.unsafe(text).simple().catch((error) => {
        const at = error.position ? `:${text.slice(0, Number(error.position)).split("\n").length}` : "";
        throw new Error(`supabase/schemas/${file}${at}: ${error.message}`);
      });
    }
    const [migrated, declared] = await Promise.all([catalog(template), catalog(declarative)]);
    expect(migrated.size, "the catalog query sees the migrated schema").toBeGreaterThan(300);
    expect(differences(migrated, declared)).toEqual([]);
  } finally {
    await declarative.end();
    await template.end();
  }
});
