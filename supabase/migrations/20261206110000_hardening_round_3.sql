-- Hardening, round 3: what a security probe of the read, follow, run-control, usage and context surface
-- found (SECURITY.md lists each finding with its fix and its test).
--
-- 1. Server-owned columns change only through the API's operations. PostgREST lets a signed-in user
--    update any column of their own rows, and an update such as `status = 'running', heartbeat_at =
--    'infinity', attempts = 0` defeated stale recovery and the three-claims cap. Column privileges
--    cannot say this (the operations run as the caller, SECURITY INVOKER, and do write those columns),
--    so a BEFORE UPDATE trigger on each table refuses a change to its server-owned columns (named in
--    the trigger's arguments) by the API roles, unless it comes from:
--      * one of the operations, which carry `set chat.transition = on` (ALTER FUNCTION below): the
--        setting holds while the function runs, and a PostgREST client cannot set it, since every
--        request is one statement of its own;
--      * a trigger of ours (pg_trigger_depth() > 1), such as the one that gives a message its seq;
--      * a SECURITY DEFINER function, or the service role.
--    Inserts are bounded by column privileges: an API role may insert only the columns a client
--    chooses; the rest take their defaults. tests/db/server-owned.test.ts lists, per table, the
--    columns an API role may insert and update, so a later migration cannot widen either silently.
-- 2. A direct insert of a user message (PostgREST) into a running chat skipped the budget check,
--    which spared running chats only so that queued messages (checked when queued) could join the
--    history at the end of a turn: that exception now holds only for the backend's writes.
-- 3. private.is_followed answered any signed-in user for any chat: no longer executable by the API
--    roles (the change-hint trigger runs as its owner).
-- 4. A runner that lost its lease could still write the assistant message and steps: writes on behalf
--    of a run into a chat a runner holds must name that runner (append_message and log_workflow_step
--    take runner_id), as append_chunks and heartbeat already did.
-- 5. Forged list cursors were decoded as long as they parsed: a cursor is exactly [timestamp, id] as
--    the API encodes it.
-- 6. append_message returns the message as every read shows it (private.message_summary: the
--    UIMessage under `message`), not the table row (whose `parts` column held the whole UIMessage).
-- 7. chat_changes names the chat's owner, so a follower whose chat moved to another account is ended.
-- 8. claim_chats can take only the chats of the models a worker runs (model_ids): a worker for one model
--    leaves the others' chats to their own workers (and the README's examples, which play the worker
--    themselves on a model no worker runs, are not raced by a running example worker).

-- ============================================================================
-- 1. Server-owned columns
-- ============================================================================
create function private.refuse_server_owned_changes() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  server_owned text;
begin
  if current_user not in ('authenticated', 'anon')
     or pg_trigger_depth() > 1
     or current_setting('chat.transition', true) = 'on' then
    return new;
  end if;
  foreach server_owned in array tg_argv loop
    if (to_jsonb(new) -> server_owned) is distinct from (to_jsonb(old) -> server_owned) then
      raise sqlstate '42501' using
        message = format('%s.%s is kept by the server: it changes only through the API''s operations',
                         tg_table_name, server_owned);
    end if;
  end loop;
  return new;
end;
$$;
comment on function private.refuse_server_owned_changes() is
  'BEFORE UPDATE: refuses an API role''s change to the columns named in the trigger''s arguments, unless it comes from '
  'an operation (chat.transition = on), a trigger of ours, a SECURITY DEFINER function or the service role.';

-- Named so that each fires before the table''s other BEFORE UPDATE triggers, which move some of these
-- columns themselves (triggers fire in name order): it judges only what the statement asked for.
create trigger chats_0_server_owned before update on public.chats
  for each row execute function private.refuse_server_owned_changes(
    'id', 'session_id', 'active_stream_id', 'last_assistant_message_at', 'last_message_seq', 'created_at',
    'updated_at', 'revision', 'revision_txid', 'status', 'last_error', 'runner_id', 'heartbeat_at', 'attempts',
    'status_changed_at', 'archived_at'
  );
create trigger chat_messages_0_server_owned before update on public.chat_messages
  for each row execute function private.refuse_server_owned_changes(
    'id', 'chat_id', 'role', 'seq', 'created_at', 'updated_at', 'revision'
  );
create trigger chat_queued_messages_0_server_owned before update on public.chat_queued_messages
  for each row execute function private.refuse_server_owned_changes('id', 'chat_id', 'position', 'created_at');
create trigger chat_reads_0_server_owned before update on public.chat_reads
  for each row execute function private.refuse_server_owned_changes('account_id', 'chat_id', 'created_at', 'updated_at');
create trigger sessions_0_server_owned before update on public.sessions
  for each row execute function private.refuse_server_owned_changes('id', 'account_id', 'created_at', 'updated_at');
create trigger chat_context_resources_0_server_owned before update on public.chat_context_resources
  for each row execute function private.refuse_server_owned_changes(
    'chat_id', 'source', 'content_hash', 'size_bytes', 'status', 'pinned_at', 'created_at', 'updated_at'
  );

-- The operations an API role calls that move server-owned columns carry chat.transition: see the
-- end of this file (after the functions it replaces).

-- Inserts: the columns a client chooses, no more. Supabase grants every table to the API roles by
-- default; these narrow INSERT to columns (and the operations insert only these).
revoke insert on public.chats, public.chat_messages, public.chat_queued_messages, public.chat_reads,
  public.sessions from anon, authenticated;
grant insert (id, session_id, title, model_id) on public.chats to authenticated;
grant insert (id, chat_id, role, parts) on public.chat_messages to authenticated;
grant insert (id, chat_id, message, position) on public.chat_queued_messages to authenticated;
grant insert (account_id, chat_id, last_read_at) on public.chat_reads to authenticated;
grant insert (
  id, account_id, title, status, repo_owner, repo_name, branch, clone_url, is_new_branch, auto_commit_push_override,
  global_skill_refs, sandbox_state, lifecycle_state, lifecycle_version, last_activity_at, sandbox_expires_at,
  hibernate_after, lifecycle_run_id, lifecycle_error, lines_added, lines_removed, snapshot_url, snapshot_created_at,
  snapshot_size_bytes, cached_diff, cached_diff_updated_at
) on public.sessions to authenticated;

-- ============================================================================
-- 2. The budget holds for a direct insert
-- ============================================================================
create or replace function private.check_budget() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  chat_status text;
  owner uuid;
  budget jsonb;
begin
  select c.status, s.account_id into chat_status, owner
    from public.chats c join public.sessions s on s.id = c.session_id
   where c.id = new.chat_id;
  -- Queued messages were checked when they were queued; they join the history when the turn ends,
  -- a write of the backend's (never of an API role).
  if tg_table_name = 'chat_messages' and chat_status in ('running', 'stopping')
     and current_user not in ('authenticated', 'anon') then
    return new;
  end if;
  budget := private.budget_status(owner);
  if (budget ->> 'exceeded')::boolean then
    raise sqlstate 'PT402' using
      message = case
        when (budget ->> 'used_cost_micros')::bigint >= (budget ->> 'limit_cost_micros')::bigint then
          format('the account is over its monthly budget: %s of %s micro-USD used since %s',
                 budget ->> 'used_cost_micros', budget ->> 'limit_cost_micros', budget ->> 'period_start')
        else
          format('the account is over its monthly budget: %s of %s tokens used since %s',
                 budget ->> 'used_total_tokens', budget ->> 'limit_total_tokens', budget ->> 'period_start')
      end,
      detail = 'budget_exceeded',
      hint = budget::text;
  end if;
  return new;
end;
$$;

-- ============================================================================
-- 3. Whether a chat is followed is the server's business
-- ============================================================================
-- The trigger that sends change hints runs as its owner, so the API roles need neither is_followed
-- nor change_hint.
alter function private.notify_chat_change() security definer;
revoke execute on function private.is_followed(text), private.change_hint(text, bigint) from authenticated;

-- ============================================================================
-- 4. Writes on behalf of a run name the runner holding the chat
-- ============================================================================
-- append_message, again: same contract as 20261206100000's, plus: the backend's assistant message into a
-- chat a runner holds must name that runner (PT409 not_held otherwise), and the message comes back as
-- every read shows it.
create or replace function public.append_message(chat_id text, message jsonb, runner_id text default null) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  message_id text := message ->> 'id';
  message_role text := message ->> 'role';
  chat public.chats;
  stored public.chat_messages;
  queued public.chat_queued_messages;
  queue_length int;
begin
  -- The chat's row lock serialises appends to one chat: seq, revision, status, the queue, the
  -- title rule and the retry checks all see a settled chat.
  select * into chat from public.chats c where c.id = append_message.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', append_message.chat_id);
  end if;
  -- A worker names itself: a runner that no longer holds the chat (stopped, recovered, finished) writes nothing.
  -- The agent's message into a chat a runner holds is that runner's to write: the backend must name it.
  if (append_message.runner_id is not null
      and (chat.status not in ('running', 'stopping') or chat.runner_id is distinct from append_message.runner_id))
     or (append_message.runner_id is null and message_role = 'assistant' and current_user <> 'authenticated'
         and chat.status in ('running', 'stopping')) then
    raise sqlstate 'PT409' using
      message = format('runner %s does not hold chat %s: it was stopped, recovered or finished',
                       append_message.runner_id, chat.id),
      detail = 'not_held';
  end if;

  select * into stored from public.chat_messages m where m.id = message_id;
  if found then
    if stored.chat_id <> append_message.chat_id or stored.role <> message_role then
      raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
    end if;
    if message_role = 'user' or stored.parts = message then
      -- User messages are written once, and an unchanged rewrite is a retry: the stored row, unchanged.
      return jsonb_build_object('message', private.message_summary(stored), 'created', false);
    end if;
    -- The agent persists its message once per step: replace it in place, keeping its seq.
    update public.chat_messages m set parts = message where m.id = message_id returning * into stored;
    update public.chats c set last_assistant_message_at = now() where c.id = append_message.chat_id;
    return jsonb_build_object('message', private.message_summary(stored), 'created', false);
  end if;

  if message_role = 'user' then
    select * into queued from public.chat_queued_messages q where q.id = message_id;
    if found then
      if queued.chat_id <> append_message.chat_id then
        raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
      end if;
      return jsonb_build_object('queued', true, 'position', queued.position, 'message', to_jsonb(queued), 'created', false);
    end if;

    if chat.status in ('running', 'stopping') then
      select count(*) into queue_length from public.chat_queued_messages q where q.chat_id = append_message.chat_id;
      if queue_length >= 20 then
        raise sqlstate 'PT429' using
          message = format('chat %s already has 20 queued messages: wait for the agent''s turn to end', append_message.chat_id),
          detail = 'queue_full';
      end if;
      insert into public.chat_queued_messages (id, chat_id, message, position)
      values (message_id, append_message.chat_id, message, queue_length + 1)
      on conflict (id) do nothing
      returning * into queued;
      if not found then
        raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
      end if;
      return jsonb_build_object('queued', true, 'position', queued.position, 'message', to_jsonb(queued), 'created', true);
    end if;
  end if;

  insert into public.chat_messages (id, chat_id, role, parts)
  values (message_id, append_message.chat_id, message_role, message)
  on conflict (id) do nothing
  returning * into stored;
  if not found then
    -- Another account's message has this id (invisible to us), or another chat took it just now.
    raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
  end if;

  -- The insert's trigger already took the chat's next seq and revision.
  if message_role = 'assistant' then
    update public.chats c set last_assistant_message_at = stored.created_at where c.id = append_message.chat_id;
  else
    if chat.title = 'New chat'
      and not exists (
        select from public.chat_messages m
         where m.chat_id = append_message.chat_id and m.role = 'user' and m.id <> message_id
      )
      and private.title_from_message(message) is not null then
      update public.chats c set title = private.title_from_message(message) where c.id = append_message.chat_id;
    end if;
    if chat.status in ('idle', 'error') then
      update public.chats c
         set status = 'pending', attempts = 0, last_error = null, status_changed_at = now()
       where c.id = append_message.chat_id;
    end if;
  end if;

  return jsonb_build_object('message', private.message_summary(stored), 'created', true);
end;
$$;

comment on function public.append_message(text, jsonb, text) is
  'Appends a UIMessage to a chat as its owner (or the service role). User messages are written once (a retry returns '
  'the stored message, created false) and make an idle, error or pending chat pending; to a running or stopping chat '
  'they wait in its queue ({queued, position}; PT429 queue_full past 20). Assistant messages are replaced in place, '
  'keeping their seq (the agent persists its message once per step); the backend''s into a chat a runner holds must '
  'name that runner (runner_id; PT409 not_held). Returns {message, created} (the message as reads show it) or '
  '{queued, position, message, created}.';

-- log_workflow_step, again: same contract as 20261125120000's, plus runner_id: steps recorded into a chat
-- a runner holds must name that runner (PT409 not_held). Finishing a run needs no name: a run that does
-- not hold its chat is only recorded.
drop function public.log_workflow_step(text, text, timestamptz, text, jsonb, text, timestamptz);
create function public.log_workflow_step(
  run_id text,
  chat_id text,
  started_at timestamptz default null,
  model_id text default null,
  steps jsonb default '[]',
  finish_status text default null,
  finished_at timestamptz default null,
  runner_id text default null
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  run public.workflow_runs;
  run_created boolean := false;
  step jsonb;
  step_started timestamptz;
  step_finished timestamptz;
  recorded jsonb := '[]';
  inserted_id text;
begin
  -- A finish may end the chat's turn: lock the chat before the run, the order every transition uses.
  if finish_status is not null then
    select * into chat from public.chats c where c.id = log_workflow_step.chat_id for update;
  else
    select * into chat from public.chats c where c.id = log_workflow_step.chat_id;
  end if;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', log_workflow_step.chat_id);
  end if;

  -- Steps recorded into a chat a runner holds are that runner's: the backend names it (a runner that
  -- lost the chat to stale recovery writes nothing).
  if jsonb_array_length(steps) > 0 and chat.status in ('running', 'stopping')
     and chat.runner_id is distinct from log_workflow_step.runner_id then
    raise sqlstate 'PT409' using
      message = format('chat %s is held by another runner: name the holder (runner_id) to record its steps', chat.id),
      detail = 'not_held';
  end if;

  if log_workflow_step.started_at is not null then
    insert into public.workflow_runs (id, chat_id, model_id, started_at)
    values (run_id, log_workflow_step.chat_id, log_workflow_step.model_id, log_workflow_step.started_at)
    on conflict (id) do nothing;
    run_created := found;
  end if;
  -- Lock the run: concurrent calls for one run (steps, finish) apply one after another.
  select * into run from public.workflow_runs r where r.id = run_id for update;
  if not found then
    raise sqlstate 'PT400' using
      message = format('run %s does not exist: send run.started_at to create it', run_id),
      detail = 'unknown_run';
  end if;
  if run.chat_id <> log_workflow_step.chat_id then
    raise sqlstate 'PT409' using message = format('run %s belongs to another chat', run_id);
  end if;

  for step in select * from jsonb_array_elements(steps) loop
    step_started := (step ->> 'started_at')::timestamptz;
    step_finished := (step ->> 'finished_at')::timestamptz;
    if step_finished < step_started then
      raise sqlstate 'PT400' using message = format('step %s finished before it started', step ->> 'step_number');
    end if;
    -- Every column the step names (the edge function's schema decides which may be named), plus
    -- what the server decides: the run, the duration, the id and the time of recording.
    insert into public.workflow_run_steps
    select (jsonb_populate_record(null::public.workflow_run_steps, step || jsonb_build_object(
      'id', gen_random_uuid()::text,
      'workflow_run_id', run_id,
      'duration_ms', round(extract(epoch from step_finished - step_started) * 1000)::bigint,
      'created_at', now()
    ))).*
    on conflict (workflow_run_id, step_number) do nothing
    returning id into inserted_id;
    recorded := recorded || jsonb_build_object('step_number', (step ->> 'step_number')::int, 'recorded', found);
  end loop;

  if finish_status is not null then
    if finished_at < run.started_at then
      raise sqlstate 'PT400' using message = format('run %s cannot finish before it started', run_id);
    end if;
    if run.status = 'running' then
      update public.workflow_runs r
         set status = finish_status,
             finished_at = log_workflow_step.finished_at,
             total_duration_ms = round(extract(epoch from log_workflow_step.finished_at - r.started_at) * 1000)::bigint
       where r.id = run_id
      returning * into run;
      -- Only the run that holds the chat ends its turn; a run that lost its hold changes nothing more.
      if chat.active_stream_id = run_id then
        perform private.end_turn(log_workflow_step.chat_id, finish_status);
      end if;
    elsif run.status <> finish_status then
      raise sqlstate 'PT409' using
        message = format('run %s already finished as %s', run_id, run.status);
    end if;
  end if;

  return jsonb_build_object('run', to_jsonb(run), 'created', run_created, 'steps', recorded);
end;
$$;

comment on function public.log_workflow_step(text, text, timestamptz, text, jsonb, text, timestamptz, text) is
  'Service role only. Creates the run if new, records steps (duration computed here; a step already recorded is '
  'reported with recorded = false; into a chat a runner holds only when runner_id names it), and closes the run when '
  'finish_status is given, ending its chat''s turn if the run holds the chat. A finished run never runs again; '
  'finishing with a different status is PT409; finishing before the start is PT400.';

-- ============================================================================
-- 5. A list cursor is what the API encodes, nothing else
-- ============================================================================
create or replace function private.decode_cursor(cursor text, out at timestamptz, out id text)
language plpgsql immutable
set search_path = ''
as $$
declare
  decoded jsonb;
  padded text := translate(cursor, '-_', '+/');
begin
  if cursor is null then
    return;
  end if;
  padded := padded || repeat('=', (4 - length(padded) % 4) % 4);
  decoded := convert_from(decode(padded, 'base64'), 'UTF8')::jsonb;
  -- Exactly [time, id] as encode_cursor writes them: an ISO 8601 time with its offset (never infinity,
  -- now or epoch), then a non-empty id.
  if jsonb_typeof(decoded) <> 'array' or jsonb_array_length(decoded) <> 2
     or jsonb_typeof(decoded -> 0) <> 'string' or jsonb_typeof(decoded -> 1) <> 'string'
     or decoded ->> 0 !~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?|Z)$'
     or decoded ->> 1 = '' then
    raise sqlstate 'PT400';
  end if;
  at := (decoded ->> 0)::timestamptz;
  id := decoded ->> 1;
exception when others then
  raise sqlstate 'PT400' using message = 'cursor is not a cursor this API returned', detail = 'invalid_cursor';
end;
$$;

-- ============================================================================
-- 7. chat_changes names the chat's owner
-- ============================================================================
-- Same contract as 20261206100000's, plus account_id: a follow process reads as the service role and
-- fans out; each follower ends when the chat it follows is no longer its owner's.
create or replace function public.chat_changes(
  chat_id text,
  after_revision bigint default null,
  page_size int default 200,
  after_stream bigint default null,
  after_chunk int default null,
  chunk_limit int default 1000
) returns jsonb
language plpgsql stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  rows jsonb;
  more boolean;
  in_flight public.chat_streams;
  from_stream bigint := after_stream;
  from_chunk int := after_chunk;
  batches jsonb;
  batches_more boolean;
  streams jsonb;
begin
  perform private.check_page_size(page_size);
  if chunk_limit is null or chunk_limit not between 1 and 10000 then
    raise sqlstate 'PT400' using message = format('chunk_limit must be between 1 and 10000, not %s', chunk_limit);
  end if;
  if (after_stream is null) <> (after_chunk is null) or after_stream > after_revision then
    raise sqlstate 'PT400' using message = 'a stream position is a stream and a chunk index, at or before the revision',
      detail = 'invalid_cursor';
  end if;
  select * into chat from public.chats c where c.id = chat_changes.chat_id;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', chat_changes.chat_id);
  end if;
  if after_revision > chat.revision then
    raise sqlstate 'PT400' using
      message = format('cursor %s is ahead of the chat''s revision %s: follow again without a cursor',
                       after_revision, chat.revision),
      detail = 'cursor_ahead';
  end if;

  select coalesce(jsonb_agg(private.message_summary(m) order by (m).revision) filter (where n <= page_size), '[]'),
         count(*) > page_size
    into rows, more
    from (
      select m, row_number() over (order by m.revision) as n
        from public.chat_messages m
       where m.chat_id = chat_changes.chat_id and after_revision is not null and m.revision > after_revision
       order by m.revision
       limit page_size + 1
    ) changed;

  if from_stream is null then
    select * into in_flight from public.chat_streams s
     where s.chat_id = chat.id and s.run_id = chat.active_stream_id
       and s.opened_revision <= coalesce(after_revision, chat.revision)
     order by s.opened_revision desc limit 1;
    if found then
      from_stream := in_flight.opened_revision;
      from_chunk := -1;
    else
      from_stream := coalesce(after_revision, chat.revision);
      from_chunk := 2147483647;
    end if;
  end if;

  -- Batches in stream order, cut after the one that reaches chunk_limit chunks.
  select coalesce(jsonb_agg(jsonb_build_object(
           'message_id', b.message_id, 'stream', b.opened_revision, 'from', b.from_index,
           'at_revision', b.at_revision, 'chunks', b.chunks) order by b.opened_revision, b.from_index)
           filter (where b.before_this < chunk_limit), '[]'),
         coalesce(bool_or(b.before_this >= chunk_limit), false)
    into batches, batches_more
    from (
      select s.opened_revision, k.message_id, k.from_index, k.at_revision, k.chunks,
             coalesce(sum(jsonb_array_length(k.chunks)) over (
               order by s.opened_revision, k.from_index rows between unbounded preceding and 1 preceding), 0) as before_this
        from public.chat_streams s
        join public.chat_stream_chunks k on k.message_id = s.message_id
       where s.chat_id = chat.id
         and (s.opened_revision > from_stream
              or s.opened_revision = from_stream and k.from_index > from_chunk - 500
                 and k.from_index + jsonb_array_length(k.chunks) - 1 > from_chunk)
       order by s.opened_revision, k.from_index
       limit chunk_limit + 1
    ) b;

  select coalesce(jsonb_agg(jsonb_build_object(
           'message_id', s.message_id, 'stream', s.opened_revision, 'run_id', s.run_id,
           'chunks', s.next_index, 'closed', s.closed_at is not null,
           'in_flight', s.run_id is not distinct from chat.active_stream_id) order by s.opened_revision), '[]')
    into streams
    from public.chat_streams s
   where s.chat_id = chat.id and s.opened_revision >= from_stream;

  -- With more to come, the chat is reported at the last message's revision: the caller asks again from there.
  return jsonb_build_object(
    'chat', private.chat_summary(chat),
    'account_id', (select s.account_id from public.sessions s where s.id = chat.session_id),
    'messages', rows,
    'has_more', more,
    'position', jsonb_build_array(from_stream, from_chunk),
    'streams', streams,
    'chunks', batches,
    'chunks_more', batches_more
  );
end;
$$;
comment on function public.chat_changes(text, bigint, int, bigint, int, int) is
  'Every message of a chat changed after after_revision, at its latest state, in revision order (at most page_size; '
  'has_more says to ask again after the last one), the chat itself and its owner''s account_id, and the chunks of its '
  'live streams after the stream position (after_stream, after_chunk), or without one the stream in flight from its '
  'start (at most chunk_limit; chunks_more). No after_revision: no messages. A cursor beyond the chat''s revision is '
  'PT400 cursor_ahead. Returns {chat, account_id, messages, has_more, position, streams, chunks, chunks_more}.';

-- ============================================================================
-- 8. Workers by model
-- ============================================================================
-- Same contract as 20261206100000's, plus model_ids: only chats of those models ('' for a chat without
-- a model). NULL: any.
drop function public.claim_chats(text, int, text[], interval, interval);
create function public.claim_chats(
  runner_id text,
  max_chats int default 1,
  chat_ids text[] default null,
  stale_after interval default '90 seconds',
  stream_keep interval default '300 seconds',
  model_ids text[] default null
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  run public.workflow_runs;
  claims jsonb := '[]';
  claimed int := 0;
  wanted int;
  found_now int;
begin
  if max_chats is null or max_chats not between 1 and 20 then
    raise sqlstate 'PT400' using message = format('limit must be between 1 and 20, not %s', max_chats),
      detail = 'invalid_limit';
  end if;
  perform public.recover_stale_chats(stale_after, stream_keep);

  loop
    wanted := max_chats - claimed;
    found_now := 0;
    for chat in
      select * from public.chats c
       where c.status = 'pending' and (claim_chats.chat_ids is null or c.id = any(claim_chats.chat_ids))
         and (claim_chats.model_ids is null or coalesce(c.model_id, '') = any(claim_chats.model_ids))
       order by c.status_changed_at, c.id
       limit wanted
       for update skip locked
    loop
      found_now := found_now + 1;
      if private.over_budget((select s.account_id from public.sessions s where s.id = chat.session_id)) then
        update public.chats c
           set status = 'error', last_error = 'budget_exceeded', status_changed_at = now()
         where c.id = chat.id;
        continue;
      end if;
      insert into public.workflow_runs (id, chat_id, model_id, started_at)
      values (gen_random_uuid()::text, chat.id, chat.model_id, now())
      returning * into run;
      update public.chats c
         set status = 'running', runner_id = claim_chats.runner_id, heartbeat_at = now(),
             active_stream_id = run.id, attempts = c.attempts + 1, status_changed_at = now()
       where c.id = chat.id
      returning * into chat;
      claims := claims || jsonb_build_object('chat', private.chat_summary(chat), 'run', to_jsonb(run));
      claimed := claimed + 1;
    end loop;
    -- Done when enough are claimed or no pending chat is left; otherwise over-budget chats took
    -- places in this round, and the next round looks further.
    exit when claimed = max_chats or found_now < wanted;
  end loop;
  return jsonb_build_object('claims', claims);
end;
$$;
comment on function public.claim_chats(text, int, text[], interval, interval, text[]) is
  'Service role. Recovers stale chats (and deletes streams closed longer than stream_keep), then hands runner_id up '
  'to max_chats (1..20) of the oldest pending chats (only those of chat_ids, and of model_ids when given, an empty '
  'string standing for a chat without a model) whose account is within its budget, each with a new running workflow '
  'run that holds it; an over-budget chat goes to error (budget_exceeded). Returns {claims: [{chat, run}]}.';

-- ============================================================================
-- The operations an API role calls that move server-owned columns (section 1)
-- ============================================================================
alter function public.append_message(text, jsonb, text) set chat.transition = 'on';
alter function public.stop_chat(text) set chat.transition = 'on';
alter function public.mark_read(text, timestamptz, uuid) set chat.transition = 'on';
alter function public.archive_chat(text, boolean) set chat.transition = 'on';
alter function public.pin_context(text, text[]) set chat.transition = 'on';

-- ============================================================================
-- Who may call what
-- ============================================================================
revoke execute on function private.refuse_server_owned_changes() from public;
-- Trigger functions run as triggers whatever their privileges: nobody needs to call them.
revoke execute on function private.assign_message_seq(), private.keep_message_position(), private.set_updated_at()
  from public, anon, authenticated;
revoke execute on function
  public.log_workflow_step(text, text, timestamptz, text, jsonb, text, timestamptz, text),
  public.claim_chats(text, int, text[], interval, interval, text[])
  from public, anon, authenticated;
