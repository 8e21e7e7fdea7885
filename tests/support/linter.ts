// The checks Supabase's database linter (splinter) runs that apply to this schema, as catalog
// queries. Each returns one row per finding, naming the object.
import type { Sql, Tx } from "./db.ts";

export const lints: Record<string, string> = {
  rls_disabled_in_public: `
    select c.relname as object from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity`,

  policy_exists_rls_disabled: `
    select c.relname || ': ' || p.polname as object from pg_policy p join pg_class c on c.oid = p.polrelid
     where not c.relrowsecurity`,

  unindexed_foreign_keys: `
    select c.conrelid::regclass || ' ' || c.conname as object from pg_constraint c
     where c.contype = 'f' and c.connamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
       and not exists (
         select 1 from pg_index i
          where i.indrelid = c.conrelid
            and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
            and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey
       )`,

  function_search_path_mutable: `
    select p.oid::regprocedure::text as object from pg_proc p
     where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
       and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
       and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) setting where setting like 'search_path=%')`,

  // auth.<fn>() and current_setting() in a policy must be wrapped in a scalar subquery, so they are
  // evaluated once per statement instead of once per row. Postgres prints the wrapped form as
  // "( SELECT auth.uid() AS uid)".
  auth_rls_initplan: `
    select tablename || ': ' || policyname as object from pg_policies
     where schemaname = 'public'
       and exists (
         select 1 from unnest(array[qual, with_check]) expr
          where regexp_replace(expr, '\\(\\s*select\\s+(auth\\.\\w+\\(\\)|current_setting\\([^)]*\\))[^)]*\\)', '', 'gi')
                ~* '(auth\\.(uid|jwt|role|email)\\(\\)|current_setting\\()'
       )`,

  multiple_permissive_policies: `
    select tablename || ' ' || role || ' ' || action as object
      from (
        select p.tablename, r.role, a.action
          from pg_policies p
          cross join lateral unnest(p.roles) r(role)
          cross join lateral unnest(case p.cmd when 'ALL' then array['SELECT', 'INSERT', 'UPDATE', 'DELETE']
                                               else array[p.cmd] end) a(action)
         where p.schemaname = 'public' and p.permissive = 'PERMISSIVE'
      ) expanded
     group by tablename, role, action having count(*) > 1`,

  security_definer_view: `
    select c.relname as object from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind = 'v'
       and not coalesce(c.reloptions @> array['security_invoker=true'], false)`,

  security_definer_function_executable_by_anon: `
    select p.oid::regprocedure::text as object from pg_proc p
     where p.prosecdef
       and p.pronamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
       and has_function_privilege('anon', p.oid, 'execute')`,
};

export async function findings(sql: Sql | Tx): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  for (const [name, query] of Object.entries(lints)) {
    result[name] = (await sql.unsafe(query)).map((row) => row.object as string);
  }
  return result;
}
