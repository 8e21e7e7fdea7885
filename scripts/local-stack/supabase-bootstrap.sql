-- What a Supabase database already has before any project migration runs, recreated for the local
-- stack (embedded PostgreSQL, no Docker). This is NOT a migration: on Supabase (hosted, `supabase
-- start`, preview branches) the platform provides all of it, and our migrations rely on it.
-- Idempotent: the local stack runs it on every start.

-- ============================================================================
-- Roles
-- ============================================================================
-- anon: requests without a user; authenticated: requests with a user's JWT; service_role: the
-- trusted backend, which bypasses row level security; authenticator: the login the API layer
-- uses, which switches to one of the three per request.
do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin inherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin inherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin inherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit password 'postgres';
  end if;
end
$$;

grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;

-- edge_functions: the login the local stack's edge functions use (not something Supabase provides;
-- on hosted Supabase it is created by hand, with a strong password: SECURITY.md). Like authenticator
-- it is NOINHERIT and may only switch to authenticated or service_role (the functions never act as
-- anon), so a connection that has not switched role, or has reset it, can read and write nothing.
-- The password is for the local stack only (scripts/local-stack/config.ts holds the same).
do $$
begin
  if not exists (select from pg_roles where rolname = 'edge_functions') then
    create role edge_functions login noinherit password 'edge-functions-local-only';
  end if;
end
$$;
grant authenticated, service_role to edge_functions;

-- ============================================================================
-- Schema public: grants are wide open, row level security is what restricts access
-- ============================================================================
grant usage on schema public to postgres, anon, authenticated, service_role;
-- Set once, when the database is new: from then on the migrations own these defaults (one revokes
-- TRUNCATE, TRIGGER and REFERENCES from anon and authenticated), and re-running this bootstrap on
-- every start must not grant them back.
do $$
begin
  if not exists (
    select from pg_default_acl
     where defaclrole = 'postgres'::regrole and defaclnamespace = 'public'::regnamespace
  ) then
    alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
    alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;
    alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
  end if;
end
$$;

-- ============================================================================
-- Schema extensions: where Supabase installs extensions
-- ============================================================================
create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions grant all on functions to postgres, anon, authenticated, service_role;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;

-- Query statistics, where Supabase keeps them, for `supabase inspect db outliers` and `db-stats` (the
-- local cluster preloads the library; a server that does not cannot read them, but the bootstrap
-- still succeeds). The default privileges above would give the API roles everything the extension
-- creates, including resetting the statistics; take that back, so they keep only what the extension
-- itself grants to everyone (its views, which hide other roles' query texts).
do $$
begin
  if exists (select from pg_available_extensions where name = 'pg_stat_statements') then
    create extension if not exists pg_stat_statements with schema extensions;
    revoke all on extensions.pg_stat_statements, extensions.pg_stat_statements_info
      from anon, authenticated, service_role;
    revoke all on function extensions.pg_stat_statements_reset(oid, oid, bigint),
      extensions.pg_stat_statements(boolean), extensions.pg_stat_statements_info()
      from anon, authenticated, service_role;
  end if;
end
$$;

-- ============================================================================
-- Schema auth: the request's identity, read from the settings the API layer sets per transaction
-- (set_config('request.jwt.claims', '<claims json>', true)), defined exactly as on Supabase.
-- ============================================================================
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to anon, authenticated, service_role;

-- ============================================================================
-- Realtime: Supabase creates this (empty) publication; tables join it to stream their changes,
-- filtered by each subscriber's RLS select policies.
-- ============================================================================
do $$
begin
  if not exists (select from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;
