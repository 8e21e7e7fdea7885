-- Ownership and shared helpers: the schema `private` for everything the API does not expose, what the
-- API roles may do with a table whatever its policies say, the accounts that own everything, and the
-- one ownership rule every policy uses.
--
-- This directory is the schema as it is now, one file per domain, loaded in file-name order on top of
-- what a Supabase database already has (scripts/local-stack/supabase-bootstrap.sql). The migrations in
-- supabase/migrations say how each database got here; tests/migrations/declarative-schema.test.ts
-- keeps the two equal, object by object. CONTRIBUTING.md has the workflow for a change.
--
-- Conventions, so every file reads without surprises:
-- * Text primary keys: ids are nanoids or client-generated strings (AI SDK message ids, workflow
--   run ids). Where the server may mint one, the default is a random uuid in text form.
-- * Statuses are text + CHECK, never enums: adding a status is a one-line forward migration.
-- * Every foreign key cascades on delete and every foreign-key column is indexed (PostgreSQL does
--   not index the referencing side, and "all children of X" is how every screen reads).
-- * updated_at is kept by one trigger function, private.set_updated_at() (chats by their own
--   trigger, private.track_chat_change()).
-- * Row level security is enabled on every table, with `to authenticated` policies written the way
--   Supabase recommends (`(select auth.uid())` is evaluated once per statement), and ownership is
--   the one rule below. anon has no policy anywhere, so it sees nothing; the service role bypasses
--   row level security.
-- * The API's operations are SQL functions, one atomic transaction each, which the edge functions
--   call once per request (and Supabase REST clients with .rpc()). They are SECURITY INVOKER unless
--   said otherwise: they run as the caller's role, so row level security stays the enforcement.
-- * Errors use PostgREST's convention: SQLSTATE 'PTxxx' means HTTP status xxx (PT400, PT404, PT409,
--   ...), with a machine-readable code in the detail. A row the caller may not see is reported as
--   missing (PT404), never as someone else's.
-- * Results are jsonb built from the rows, so every field has the column's name and the shape of
--   types/database.ts.

-- ============================================================================
-- Schema private: helpers for triggers and policies, not exposed through the API
-- ============================================================================
create schema if not exists private;
comment on schema private is
  'What the API does not expose: helpers for triggers, policies and the operations, and tables of the server''s own '
  '(private.followed_chats).';

-- The API roles may call the helpers that policies and operations use (each function below says who
-- may execute it); nothing in private is reachable through the Supabase API.
grant usage on schema private to authenticated, service_role;

-- ============================================================================
-- Table privileges: only those row level security can govern
-- ============================================================================
-- Supabase's default privileges grant ALL on every new table in public to anon and authenticated,
-- and row level security is what restricts rows. But three of those privileges are not about rows,
-- so RLS never sees them: TRUNCATE empties a table for every account at once, TRIGGER lets the role
-- attach triggers to the table, and REFERENCES lets it create foreign keys that point at it. No API
-- request needs any of them; the owner (postgres) and service_role keep them. Taken out of the
-- default privileges before any table exists, so no table here ever has them;
-- tests/db/privileges.test.ts checks the catalog for every table in public.
alter default privileges for role postgres in schema public
  revoke truncate, trigger, references on tables from anon, authenticated;

-- ============================================================================
-- updated_at
-- ============================================================================
create function private.set_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function private.set_updated_at() is
  'BEFORE UPDATE: sets updated_at to now(). Shared by every table with an updated_at column but chats, whose '
  'private.track_chat_change moves it only for real activity.';

-- ============================================================================
-- accounts
-- ============================================================================
create table public.accounts (
  id uuid primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.accounts is
  'One row per user of the product. id is the JWT sub of that user, so auth.uid() is the account id. '
  'Created on first use by the edge functions; deleting it deletes everything the account owns.';

create trigger accounts_set_updated_at before update on public.accounts
  for each row execute function private.set_updated_at();

alter table public.accounts enable row level security;

create policy "Users see their own account"
  on public.accounts for select to authenticated
  using (id = (select auth.uid()));

create policy "Users create their own account"
  on public.accounts for insert to authenticated
  with check (id = (select auth.uid()));

-- The account a call acts for: the signed-in user, or the account a service-role call names.
create function private.acting_account(named_account uuid) returns uuid
language plpgsql stable
set search_path = ''
as $$
declare
  caller uuid := auth.uid();
begin
  if caller is not null then
    if named_account is not null and named_account <> caller then
      raise sqlstate 'PT403' using message = 'account_id can only be given by the service role';
    end if;
    return caller;
  end if;
  if named_account is null then
    raise sqlstate 'PT400' using message = 'account_id is required when calling as the service role';
  end if;
  return named_account;
end;
$$;
comment on function private.acting_account(uuid) is
  'auth.uid() for a signed-in caller (who may not act for another account); the named account for the service role.';

-- ============================================================================
-- The ownership rule
-- ============================================================================
-- Everything belongs to an account, and the policies say so in two forms, written out in each policy
-- (tests/db/ownership.test.ts checks every one):
--
-- * A table that carries account_id is the rule's root: `account_id = (select auth.uid())`. Sessions,
--   read markers, usage and budgets, and chats: a chat's account_id is its session's, set by a
--   trigger when the chat is made and server-owned after (08_hardening_and_grants.sql).
-- * A table below one of those is visible when its parent row is:
--   `exists (select from public.chats c where c.id = chat_messages.chat_id offset 0)`. Row level
--   security applies inside a policy's subquery, so the parent's own policy is the check, hop by
--   hop: a run's steps ask for their run, which asks for its chat; a stream's chunks for their stream.
--
-- Why per row: the subquery is one probe of the parent's primary key for each row a statement
-- touches, so its cost follows the statement (one message appended, a page of 50 read), not the
-- account (10,000 chats). `offset 0` keeps it so: without it the planner may turn the subquery into a
-- hash of all the account's chats, which its estimates favour for more than a few dozen rows;
-- reading a 200-message chat of an account with 10,000 chats then took 2.3 ms instead of 0.25. The
-- price is a statement with no filter by chat (`select count(*) from chat_messages`, which the API
-- never sends): it scans every account's rows in either form, at about 1.5 µs a row for the probe.
-- The rule used to be a set per statement, `chat_id in (select private.owned_chat_ids())`, which built
-- the set of all the caller's chats every time: about 40 % of an append's PostgreSQL CPU (migration
-- 20261207100000 has the figures). No helper function: a SECURITY DEFINER or PL/pgSQL function would
-- cost a call per row, and a plain SQL one would be inlined into this same subquery anyway.

-- ============================================================================
-- Who may call what
-- ============================================================================
-- Trigger functions run as triggers whatever their privileges: nobody needs to call them.
revoke execute on function private.set_updated_at() from public, anon, authenticated;
revoke execute on function private.acting_account(uuid) from public;
grant execute on function private.acting_account(uuid) to authenticated, service_role;

