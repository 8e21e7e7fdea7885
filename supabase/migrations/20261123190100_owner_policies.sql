-- Who may touch which rows. Ownership flows account -> session -> chat -> messages, read markers
-- and workflow runs -> steps. A signed-in user (role authenticated, auth.uid() = account id) reads
-- only what they own and writes their own sessions, chats, messages and read markers. Workflow
-- runs and steps are written by the trusted backend alone (service_role, which bypasses RLS).
-- anon has no policy anywhere, so it sees nothing.
--
-- Written the way Supabase recommends for speed: `(select auth.uid())` is evaluated once per
-- statement rather than once per row; ownership is checked with `column in (select ...)` over the
-- indexed owner columns; and there is one permissive policy per table, role and action.

-- ============================================================================
-- accounts
-- ============================================================================
create policy "Users see their own account"
  on public.accounts for select to authenticated
  using (id = (select auth.uid()));

create policy "Users create their own account"
  on public.accounts for insert to authenticated
  with check (id = (select auth.uid()));

-- ============================================================================
-- sessions
-- ============================================================================
create policy "Users manage their own sessions"
  on public.sessions for all to authenticated
  using (account_id = (select auth.uid()))
  with check (account_id = (select auth.uid()));

-- ============================================================================
-- chats: owned through their session
-- ============================================================================
create policy "Users manage the chats of their sessions"
  on public.chats for all to authenticated
  using (
    session_id in (select s.id from public.sessions s where s.account_id = (select auth.uid()))
  )
  with check (
    session_id in (select s.id from public.sessions s where s.account_id = (select auth.uid()))
  );

-- ============================================================================
-- chat_messages: owned through their chat
-- ============================================================================
create policy "Users manage the messages of their chats"
  on public.chat_messages for all to authenticated
  using (
    chat_id in (
      select c.id from public.chats c
       where c.session_id in (select s.id from public.sessions s where s.account_id = (select auth.uid()))
    )
  )
  with check (
    chat_id in (
      select c.id from public.chats c
       where c.session_id in (select s.id from public.sessions s where s.account_id = (select auth.uid()))
    )
  );

-- ============================================================================
-- chat_reads: a user's own markers, and only on chats they own
-- ============================================================================
create policy "Users manage their own read markers"
  on public.chat_reads for all to authenticated
  using (account_id = (select auth.uid()))
  with check (
    account_id = (select auth.uid())
    and chat_id in (
      select c.id from public.chats c
       where c.session_id in (select s.id from public.sessions s where s.account_id = (select auth.uid()))
    )
  );

-- ============================================================================
-- workflow_runs and workflow_run_steps: read-only for their owner
-- ============================================================================
create policy "Users see the workflow runs of their chats"
  on public.workflow_runs for select to authenticated
  using (
    chat_id in (
      select c.id from public.chats c
       where c.session_id in (select s.id from public.sessions s where s.account_id = (select auth.uid()))
    )
  );

create policy "Users see the steps of their workflow runs"
  on public.workflow_run_steps for select to authenticated
  using (
    workflow_run_id in (
      select r.id from public.workflow_runs r
       where r.chat_id in (
         select c.id from public.chats c
          where c.session_id in (select s.id from public.sessions s where s.account_id = (select auth.uid()))
       )
    )
  );
