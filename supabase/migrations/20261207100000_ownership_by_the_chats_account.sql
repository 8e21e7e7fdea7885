-- The ownership rule, per row: a chat is its account's (chats.account_id, 20261206150000), and every
-- table below a chat is visible when its chat is.
--
-- The rule was three set-returning helpers (private.owned_session_ids, owned_chat_ids,
-- owned_run_ids), each policy probing `<parent id> in (select private.owned_<parent>_ids())`. They
-- ran once per statement, but each run built the set of all the caller's chats: two SECURITY DEFINER
-- PL/pgSQL calls and a hash table for every statement, however few rows it touched. An append runs
-- about eight statements under these policies (its own reads and writes and its triggers'): about
-- 450 of its 1,100 µs of PostgreSQL CPU at one writer, against about 70 µs now. And the set grows
-- with the account: a page of one chat's messages read every chat id of an account with 10,000
-- chats.
--
-- Now a chat's policy compares its own account_id (set from the session by a trigger, server-owned
-- so never changed), and a child table's policy asks whether its parent row is visible:
-- `exists (select from public.chats c where c.id = <table>.chat_id)`. Row level security applies
-- inside a policy's subquery, so the chats policy is the check: one probe of chats_pkey per row the
-- statement touches (a page of 50 messages: 50 probes), independent of how many chats the account
-- has. Runs' steps ask for their run, stream chunks for their stream, session context for its
-- session, each in turn under its parent's policy.
alter policy "Users manage the chats of their sessions" on public.chats
  using (account_id = (select auth.uid()))
  with check (account_id = (select auth.uid()));

alter policy "Users manage the messages of their chats" on public.chat_messages
  using (exists (select from public.chats c where c.id = chat_messages.chat_id offset 0))
  with check (exists (select from public.chats c where c.id = chat_messages.chat_id offset 0));

alter policy "Users manage their own read markers" on public.chat_reads
  using (account_id = (select auth.uid()))
  with check (account_id = (select auth.uid()) and exists (select from public.chats c where c.id = chat_reads.chat_id offset 0));

alter policy "Users see the workflow runs of their chats" on public.workflow_runs
  using (exists (select from public.chats c where c.id = workflow_runs.chat_id offset 0));

alter policy "Users see the steps of their workflow runs" on public.workflow_run_steps
  using (exists (select from public.workflow_runs r where r.id = workflow_run_steps.workflow_run_id offset 0));

alter policy "Users manage the queued messages of their chats" on public.chat_queued_messages
  using (exists (select from public.chats c where c.id = chat_queued_messages.chat_id offset 0))
  with check (exists (select from public.chats c where c.id = chat_queued_messages.chat_id offset 0));

alter policy "Users see the live context of their sessions" on public.session_context_resources
  using (exists (select from public.sessions s where s.id = session_context_resources.session_id offset 0));

alter policy "Users see the context pinned in their chats" on public.chat_context_resources
  using (exists (select from public.chats c where c.id = chat_context_resources.chat_id offset 0));

alter policy "Users pin copies of their sessions' live context" on public.chat_context_resources
  with check (
    exists (select from public.chats c where c.id = chat_context_resources.chat_id offset 0)
    and exists (
      select from public.session_context_resources l
        join public.chats c on c.session_id = l.session_id
       where c.id = chat_context_resources.chat_id and l.source = chat_context_resources.source
         and l.kind = chat_context_resources.kind and l.status = chat_context_resources.status
         and l.content_hash = chat_context_resources.content_hash
    )
  );

alter policy "Users refresh their pins from their sessions' live context" on public.chat_context_resources
  using (exists (select from public.chats c where c.id = chat_context_resources.chat_id offset 0))
  with check (
    exists (select from public.chats c where c.id = chat_context_resources.chat_id offset 0)
    and exists (
      select from public.session_context_resources l
        join public.chats c on c.session_id = l.session_id
       where c.id = chat_context_resources.chat_id and l.source = chat_context_resources.source
         and l.kind = chat_context_resources.kind and l.status = chat_context_resources.status
         and l.content_hash = chat_context_resources.content_hash
    )
  );

alter policy "Users unpin context from their chats" on public.chat_context_resources
  using (exists (select from public.chats c where c.id = chat_context_resources.chat_id offset 0));

alter policy "Users see the streams of their chats" on public.chat_streams
  using (exists (select from public.chats c where c.id = chat_streams.chat_id offset 0));

alter policy "Users see the chunks of their chats' streams" on public.chat_stream_chunks
  using (exists (select from public.chat_streams s where s.message_id = chat_stream_chunks.message_id offset 0));

alter policy "Users see the cuts of their chats' histories" on public.chat_history_cuts
  using (exists (select from public.chats c where c.id = chat_history_cuts.chat_id offset 0));

alter policy "Users see the earlier branches of their chats" on public.chat_cut_messages
  using (exists (select from public.chats c where c.id = chat_cut_messages.chat_id offset 0));

-- cut_history reads the chat as its owner (SECURITY DEFINER), so it checks the rule itself.
create or replace function private.cut_history(chat_id text, from_seq bigint, reason text) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  dropped jsonb;
begin
  select * into chat from public.chats c where c.id = cut_history.chat_id;
  if coalesce(auth.role(), '') <> 'service_role' and chat.account_id is distinct from auth.uid() then
    raise sqlstate '42501' using message = format('chat %s is not the caller''s', cut_history.chat_id);
  end if;

  if chat.status in ('running', 'stopping') then
    update public.workflow_runs r
       set status = 'aborted',
           finished_at = greatest(now(), r.started_at),
           total_duration_ms = round(extract(epoch from greatest(now(), r.started_at) - r.started_at) * 1000)::bigint
     where r.id = chat.active_stream_id and r.status = 'running';
    perform private.close_streams(chat, 'aborted');
  end if;

  select coalesce(jsonb_agg(to_jsonb(q) order by q.position), '[]') into dropped
    from public.chat_queued_messages q where q.chat_id = chat.id;
  delete from public.chat_queued_messages q where q.chat_id = chat.id;

  -- The cut takes a revision of its own (as a message does): a follower applies it in its place.
  update public.chats c
     set revision = c.revision + 1,
         history_version = c.history_version + 1,
         last_message_seq = cut_history.from_seq - 1,
         status = 'pending', attempts = 0, last_error = null, status_changed_at = now(),
         active_stream_id = null, runner_id = null, heartbeat_at = null
   where c.id = chat.id
  returning * into chat;

  insert into public.chat_history_cuts (chat_id, history_version, from_seq, reason, revision)
  values (chat.id, chat.history_version, cut_history.from_seq, reason, chat.revision);
  with cut as (
    delete from public.chat_messages m where m.chat_id = chat.id and m.seq >= cut_history.from_seq returning m.*
  )
  insert into public.chat_cut_messages (id, chat_id, role, parts, seq, created_at, updated_at, revision,
                                        history_version, written_by, cut_in)
  select cut.id, cut.chat_id, cut.role, cut.parts, cut.seq, cut.created_at, cut.updated_at, cut.revision,
         cut.history_version, cut.written_by, chat.history_version
    from cut;

  return jsonb_build_object('history_version', chat.history_version, 'from_seq', from_seq, 'dropped_queue', dropped);
end;
$$;

-- Nothing uses the set helpers any more.
drop function private.owned_run_ids();
drop function private.owned_chat_ids();
drop function private.owned_session_ids();
