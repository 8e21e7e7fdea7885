-- The four write operations of the API as SQL functions: each is one atomic transaction whose rule
-- lives next to the schema. The edge functions call them once per request; Supabase REST clients can
-- call the same operations with .rpc().
--
-- All are SECURITY INVOKER: they run as the caller's role (authenticated with the caller's claims,
-- or service_role), so row level security stays the enforcement and these functions cannot reach a
-- row the caller could not reach directly.
--
-- Errors use PostgREST's convention: SQLSTATE 'PTxxx' means HTTP status xxx (PT400, PT404, PT409),
-- so .rpc() callers and the edge functions get the same status for the same failure. A row the
-- caller may not see is reported as missing (PT404), never as someone else's.
--
-- Results are jsonb built from the rows (to_jsonb), so every field has the column's name and the
-- shape of types/database.ts.

-- ============================================================================
-- Shared helpers
-- ============================================================================

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

-- A chat's title from the text parts of its first user message: whitespace collapsed, at most 80
-- characters, then an ellipsis. NULL when the message has no text.
create function private.title_from_message(message jsonb) returns text
language sql immutable
set search_path = ''
as $$
  select case
    when char_length(t) > 80 then left(t, 80) || '…'
    else nullif(t, '')
  end
  from (
    select btrim(regexp_replace(string_agg(part ->> 'text', ' '), '\s+', ' ', 'g')) as t
      from jsonb_array_elements(case jsonb_typeof(message -> 'parts') when 'array' then message -> 'parts' end) part
     where part ->> 'type' = 'text'
  ) text_parts
$$;
comment on function private.title_from_message(jsonb) is
  'Derives a chat title from a UIMessage''s text parts (first 80 characters, then "…").';

grant usage on schema private to authenticated, service_role;
grant execute on function private.acting_account(uuid), private.title_from_message(jsonb)
  to authenticated, service_role;

-- ============================================================================
-- create_chat: a chat in an existing session the caller owns
-- ============================================================================
create function public.create_chat(
  session_id text,
  id text default null,
  title text default null,
  model_id text default null
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
begin
  -- RLS hides other accounts' sessions, so "not yours" and "does not exist" look the same.
  perform from public.sessions s where s.id = create_chat.session_id;
  if not found then
    raise sqlstate 'PT404' using message = format('session %s not found', create_chat.session_id);
  end if;

  insert into public.chats (id, session_id, title, model_id)
  values (
    coalesce(create_chat.id, gen_random_uuid()::text),
    create_chat.session_id,
    coalesce(create_chat.title, 'New chat'),
    create_chat.model_id
  )
  on conflict (id) do nothing
  returning * into chat;
  if found then
    return jsonb_build_object('chat', to_jsonb(chat), 'created', true);
  end if;

  -- The id is taken: a retry of this very call returns the chat; anything else is a conflict.
  select * into chat from public.chats c where c.id = create_chat.id;
  if chat.session_id is distinct from create_chat.session_id then
    raise sqlstate 'PT409' using message = format('chat id %s is already used by another session', create_chat.id);
  end if;
  return jsonb_build_object('chat', to_jsonb(chat), 'created', false);
end;
$$;
comment on function public.create_chat(text, text, text, text) is
  'Creates a chat in a session the caller owns; returns {chat, created}. Retrying with the same id in the '
  'same session returns the existing chat (created = false); the same id in another session is PT409.';

-- ============================================================================
-- create_session_with_chat: what the app does when a user starts a new agent session
-- ============================================================================
create function public.create_session_with_chat(
  session jsonb,
  chat jsonb default '{}',
  account_id uuid default null
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  owner uuid := private.acting_account(account_id);
  -- Only the keys that name columns are read; the edge function's schema decides which are allowed.
  fields public.sessions := jsonb_populate_record(null::public.sessions, session);
  created_session public.sessions;
  result jsonb;
begin
  insert into public.accounts (id) values (owner) on conflict do nothing;

  insert into public.sessions (
    id, account_id, title, repo_owner, repo_name, branch, clone_url, is_new_branch,
    auto_commit_push_override, global_skill_refs, sandbox_state
  ) values (
    coalesce(fields.id, gen_random_uuid()::text), owner, fields.title, fields.repo_owner, fields.repo_name,
    fields.branch, fields.clone_url, coalesce(fields.is_new_branch, false), fields.auto_commit_push_override,
    coalesce(fields.global_skill_refs, '[]'), fields.sandbox_state
  )
  on conflict (id) do nothing
  returning * into created_session;

  if not found then
    -- A retry: the session exists. It must be this account's (RLS hides everyone else's).
    select * into created_session from public.sessions s where s.id = fields.id and s.account_id = owner;
    if not found then
      raise sqlstate 'PT409' using message = format('session id %s is already taken', fields.id);
    end if;
  end if;

  result := public.create_chat(created_session.id, chat ->> 'id', chat ->> 'title', chat ->> 'model_id');
  return result || jsonb_build_object('session', to_jsonb(created_session));
end;
$$;
comment on function public.create_session_with_chat(jsonb, jsonb, uuid) is
  'Creates a session and its first chat in one transaction (and the caller''s account on first use); returns '
  '{session, chat, created}. account_id is required for the service role and refused from users. Idempotent by ids.';

-- ============================================================================
-- append_message: a UIMessage appended to (or, for the agent, rewritten in) a chat
-- ============================================================================
create function public.append_message(chat_id text, message jsonb) returns jsonb
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
begin
  -- The chat's row lock serialises appends to one chat: seq, the title rule and the retry check all
  -- see a settled chat.
  select * into chat from public.chats c where c.id = append_message.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', append_message.chat_id);
  end if;

  select * into stored from public.chat_messages m where m.id = message_id;
  if found then
    if stored.chat_id <> append_message.chat_id or stored.role <> message_role then
      raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
    end if;
    if message_role = 'user' then
      -- User messages are written once: a retry gets the stored row back, unchanged.
      return jsonb_build_object('message', to_jsonb(stored), 'created', false);
    end if;
    -- The agent persists its message once per step: replace it in place, keeping its seq.
    update public.chat_messages m set parts = message where m.id = message_id returning * into stored;
    update public.chats c set updated_at = now() where c.id = append_message.chat_id;
    return jsonb_build_object('message', to_jsonb(stored), 'created', false);
  end if;

  insert into public.chat_messages (id, chat_id, role, parts)
  values (message_id, append_message.chat_id, message_role, message)
  on conflict (id) do nothing
  returning * into stored;
  if not found then
    -- Another account's message has this id (invisible to us), or another chat took it just now.
    raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
  end if;

  -- The insert's trigger already bumped the chat's updated_at and seq counter.
  if message_role = 'assistant' then
    update public.chats c set last_assistant_message_at = stored.created_at where c.id = append_message.chat_id;
  elsif chat.title = 'New chat'
    and not exists (
      select from public.chat_messages m
       where m.chat_id = append_message.chat_id and m.role = 'user' and m.id <> message_id
    )
    and private.title_from_message(message) is not null then
    update public.chats c set title = private.title_from_message(message) where c.id = append_message.chat_id;
  end if;

  return jsonb_build_object('message', to_jsonb(stored), 'created', true);
end;
$$;
comment on function public.append_message(text, jsonb) is
  'Appends a UIMessage to a chat; returns {message, created}. User messages are write-once (a retry returns the '
  'stored row); assistant messages are replaced in place. An id used by another chat or role is PT409. Also bumps '
  'the chat, titles it from its first user message, and records the last assistant message time.';

-- ============================================================================
-- mark_read: move an account's read marker forward
-- ============================================================================
create function public.mark_read(
  chat_id text,
  read_at timestamptz default null,
  account_id uuid default null
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  reader uuid := private.acting_account(mark_read.account_id);
  -- A marker in the future would hide messages not yet written: clamp to now.
  marker timestamptz := least(coalesce(mark_read.read_at, now()), now());
  result public.chat_reads;
begin
  perform from public.chats c join public.sessions s on s.id = c.session_id
   where c.id = mark_read.chat_id and s.account_id = reader;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', mark_read.chat_id);
  end if;

  insert into public.chat_reads as r (account_id, chat_id, last_read_at)
  values (reader, mark_read.chat_id, marker)
  on conflict (account_id, chat_id) do update
    set last_read_at = excluded.last_read_at
    where r.last_read_at < excluded.last_read_at
  returning * into result;
  if not found then
    -- An older time than the stored one: the marker only moves forward, so nothing changes.
    select * into result from public.chat_reads r where r.account_id = reader and r.chat_id = mark_read.chat_id;
  end if;
  return jsonb_build_object('chat_id', result.chat_id, 'account_id', result.account_id, 'last_read_at', result.last_read_at);
end;
$$;
comment on function public.mark_read(text, timestamptz, uuid) is
  'Moves the read marker of the caller (or, for the service role, of account_id) on a chat they own forward to '
  'read_at (default now, never past now); an older time is a no-op. Returns {chat_id, account_id, last_read_at}.';

-- ============================================================================
-- log_workflow_step: the agent workflow records a run, its steps and its end (service role only)
-- ============================================================================
create function public.log_workflow_step(
  run_id text,
  chat_id text,
  started_at timestamptz,
  model_id text default null,
  steps jsonb default '[]',
  finish_status text default null,
  finished_at timestamptz default null
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  run public.workflow_runs;
  run_created boolean;
  step jsonb;
  step_started timestamptz;
  step_finished timestamptz;
  recorded jsonb := '[]';
  inserted_id text;
begin
  perform from public.chats c where c.id = log_workflow_step.chat_id;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', log_workflow_step.chat_id);
  end if;

  insert into public.workflow_runs (id, chat_id, model_id, started_at)
  values (run_id, log_workflow_step.chat_id, log_workflow_step.model_id, log_workflow_step.started_at)
  on conflict (id) do nothing;
  run_created := found;
  -- Lock the run: concurrent calls for one run (steps, finish) apply one after another.
  select * into run from public.workflow_runs r where r.id = run_id for update;
  if run.chat_id <> log_workflow_step.chat_id then
    raise sqlstate 'PT409' using message = format('run %s belongs to another chat', run_id);
  end if;

  for step in select * from jsonb_array_elements(steps) loop
    step_started := (step ->> 'started_at')::timestamptz;
    step_finished := (step ->> 'finished_at')::timestamptz;
    if step_finished < step_started then
      raise sqlstate 'PT400' using message = format('step %s finished before it started', step ->> 'step_number');
    end if;
    insert into public.workflow_run_steps (
      workflow_run_id, step_number, started_at, finished_at, duration_ms, finish_reason, raw_finish_reason
    ) values (
      run_id, (step ->> 'step_number')::int, step_started, step_finished,
      round(extract(epoch from step_finished - step_started) * 1000)::int,
      step ->> 'finish_reason', step ->> 'raw_finish_reason'
    )
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
             total_duration_ms = round(extract(epoch from log_workflow_step.finished_at - r.started_at) * 1000)::int
       where r.id = run_id
      returning * into run;
      -- The run no longer streams into its chat: release the lease if it still holds it.
      update public.chats c set active_stream_id = null
       where c.id = log_workflow_step.chat_id and c.active_stream_id = run_id;
    elsif run.status <> finish_status then
      raise sqlstate 'PT409' using
        message = format('run %s already finished as %s', run_id, run.status);
    end if;
  end if;

  return jsonb_build_object('run', to_jsonb(run), 'created', run_created, 'steps', recorded);
end;
$$;
comment on function public.log_workflow_step(text, text, timestamptz, text, jsonb, text, timestamptz) is
  'Service role only. Creates the run if new, records steps (duration computed here; a step already recorded is '
  'reported with recorded = false), and closes the run when finish_status is given. A finished run never runs '
  'again; finishing with a different status is PT409; finishing before the start is PT400.';

-- ============================================================================
-- Who may call what
-- ============================================================================
-- Nothing here is for anon. log_workflow_step is for the trusted backend only; RLS would stop a
-- user's writes anyway, but the function should not look callable.
revoke execute on function
  public.create_chat(text, text, text, text),
  public.create_session_with_chat(jsonb, jsonb, uuid),
  public.append_message(text, jsonb),
  public.mark_read(text, timestamptz, uuid),
  public.log_workflow_step(text, text, timestamptz, text, jsonb, text, timestamptz)
  from public, anon;
revoke execute on function public.log_workflow_step(text, text, timestamptz, text, jsonb, text, timestamptz)
  from authenticated;
revoke execute on function private.acting_account(uuid), private.title_from_message(jsonb) from public;
