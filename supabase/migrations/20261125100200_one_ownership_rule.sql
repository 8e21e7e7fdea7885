-- One ownership rule for every policy.
--
-- Ownership follows run -> chat -> session -> account. The policies of 20261123190100 spelled that
-- chain out in full in each of them (seven times), so a change to who owns what meant editing seven
-- nested subqueries alike. Now the chain lives here once, one hop per helper, each built on the one
-- above it (Basejump's has_role_on_account() pattern):
--
--   private.owned_session_ids()  the caller's sessions           session -> account
--   private.owned_chat_ids()     the chats of those sessions     chat    -> session
--   private.owned_run_ids()      the workflow runs of those      run     -> chat
--
-- and every policy below the account reads `<parent id> in (select private.owned_<parent>_ids())`.
-- The accounts and sessions policies keep `= (select auth.uid())`: they are the rule's root.
--
-- Why sets, not a per-row boolean: `x in (select f())` is an uncorrelated subquery, so PostgreSQL runs
-- f once per statement and probes a hash of its result for each row, exactly as the `(select
-- auth.uid())` advice intends (tests/db/ownership.test.ts counts the calls). A `owns_chat(chat_id)`
-- boolean would run once per row.
--
-- Why SECURITY DEFINER: the helpers read sessions, chats and runs as their owner, so a policy does
-- not re-enter those tables' own policies (each helper is one lookup filtered by auth.uid(), which
-- still reads the caller's claims). They take no arguments and return only the caller's own ids;
-- they live in private, which the API does not expose, and only authenticated (the one role with
-- policies that use them) may execute them.
--
-- Why PL/pgSQL rather than SQL: a SQL function that cannot be inlined (SECURITY DEFINER and a pinned
-- search_path both prevent it) has its query planned again in every statement that calls it, which
-- made a page of 50 messages 2.7x slower at 10^5 messages; PL/pgSQL keeps the plan for the session.
-- Each helper joins the one above it as a table (FROM), with ROWS telling the planner that an
-- account's sessions and chats are few, so the join goes through chats_session_id_idx and
-- workflow_runs_chat_id_idx. docs/performance.md has the before/after figures.
--
-- Behaviour is unchanged: the same rows are visible and writable (tests/db/rls.test.ts,
-- tests/security/*). Policy names stay; only their expressions change (ALTER POLICY, no window
-- without a policy).

-- ============================================================================
-- The helpers
-- ============================================================================
create function private.owned_session_ids() returns setof text
language plpgsql stable security definer
set search_path = ''
rows 10
as $$
begin
  return query select s.id from public.sessions s where s.account_id = (select auth.uid());
end;
$$;
comment on function private.owned_session_ids() is
  'The ids of the sessions the caller (auth.uid()) owns. The ownership rule''s first hop; used by policies.';

create function private.owned_chat_ids() returns setof text
language plpgsql stable security definer
set search_path = ''
rows 100
as $$
begin
  return query select c.id from private.owned_session_ids() s (id) join public.chats c on c.session_id = s.id;
end;
$$;
comment on function private.owned_chat_ids() is
  'The ids of the chats in the caller''s sessions: what owns messages, read markers and workflow runs.';

create function private.owned_run_ids() returns setof text
language plpgsql stable security definer
set search_path = ''
rows 100
as $$
begin
  return query select r.id from private.owned_chat_ids() c (id) join public.workflow_runs r on r.chat_id = c.id;
end;
$$;
comment on function private.owned_run_ids() is
  'The ids of the workflow runs in the caller''s chats: what owns workflow run steps.';

revoke execute on function private.owned_session_ids(), private.owned_chat_ids(), private.owned_run_ids()
  from public, anon;
grant execute on function private.owned_session_ids(), private.owned_chat_ids(), private.owned_run_ids()
  to authenticated;

-- ============================================================================
-- The policies, each one hop up the chain
-- ============================================================================
alter policy "Users manage the chats of their sessions" on public.chats
  using (session_id in (select private.owned_session_ids()))
  with check (session_id in (select private.owned_session_ids()));

alter policy "Users manage the messages of their chats" on public.chat_messages
  using (chat_id in (select private.owned_chat_ids()))
  with check (chat_id in (select private.owned_chat_ids()));

alter policy "Users manage their own read markers" on public.chat_reads
  using (account_id = (select auth.uid()))
  with check (account_id = (select auth.uid()) and chat_id in (select private.owned_chat_ids()));

alter policy "Users see the workflow runs of their chats" on public.workflow_runs
  using (chat_id in (select private.owned_chat_ids()));

alter policy "Users see the steps of their workflow runs" on public.workflow_run_steps
  using (workflow_run_id in (select private.owned_run_ids()));
