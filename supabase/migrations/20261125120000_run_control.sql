-- Run control: which chat needs the agent, which worker holds it, whether that worker is alive, and
-- whether the user asked it to stop. One state machine, in the chat's row, changed only by the
-- functions below, each under the chat's row lock and in one transaction:
--
--                 user message                 claim_chats               finish (completed/aborted)
--   idle/error ─────────────────► pending ──────────────────► running ─────────────────────────► idle
--        ▲                          │  ▲                        │  │     finish (failed)          error
--        │        stop_chat         │  │  end of turn with      │  │     end of turn + queue ───► pending
--        └──────────────────────────┘  └── queued messages ─────┘  │
--                                                                   │ stop_chat
--                                      stale (no heartbeat) ◄───────┤
--                                      → pending, or error after    ▼
--                                        3 claims               stopping ── finish / stale ──► idle (or pending with a queue)
--
-- * A user message to an idle, error or pending chat enters the history and makes it pending; to a
--   running or stopping chat it waits in chat_queued_messages (at most 20) until the turn ends.
-- * claim_chats hands the oldest pending chats to a worker (FOR UPDATE SKIP LOCKED) and opens the
--   workflow run that holds each: chats.active_stream_id is that run's id, runner_id the worker's,
--   heartbeat_at its last sign of life. The three are set and cleared together with running.
-- * Only the run that holds a chat can end its turn (finishing another run records just the run).
-- * Every transition takes a chat revision (the follow stream shows status changes live); a
--   heartbeat takes none and leaves updated_at alone.
-- * The move to pending sends pg_notify('chat_work', chat_id): workers wake at once, and poll as a
--   backstop.
--
-- Locks are always taken chat first, then run, so finishing and recovery never deadlock.

-- ============================================================================
-- State
-- ============================================================================
alter table public.chats
  add column status text not null default 'idle',
  add column last_error text,
  add column runner_id text,
  add column heartbeat_at timestamptz,
  add column attempts integer not null default 0,
  add column status_changed_at timestamptz not null default now();

-- A chat that was streaming before run control existed is taken to be running for a worker that
-- never heartbeats: the first claim's stale recovery ends that run as failed and retries the turn.
update public.chats
   set status = 'running', runner_id = 'unknown', heartbeat_at = updated_at, attempts = 1
 where active_stream_id is not null;

alter table public.chats
  add constraint chats_status_chk check (status in ('idle', 'pending', 'running', 'stopping', 'error')),
  add constraint chats_lease_chk check (
    (status in ('running', 'stopping')) = (active_stream_id is not null)
    and (status in ('running', 'stopping')) = (runner_id is not null)
    and (status in ('running', 'stopping')) = (heartbeat_at is not null)
  ),
  add constraint chats_attempts_chk check (attempts >= 0),
  add constraint chats_runner_id_chk check (char_length(runner_id) between 1 and 255);

comment on column public.chats.status is
  'Where the agent is with this chat: idle (nothing to do), pending (waiting for a worker), running (a worker holds '
  'it), stopping (the user asked to stop; the worker must end the turn) or error (the last turn failed: last_error).';
comment on column public.chats.last_error is 'Why the last turn failed (for example ''lease expired''); NULL after a good turn.';
comment on column public.chats.runner_id is 'The worker holding the chat while running or stopping.';
comment on column public.chats.heartbeat_at is
  'The holding worker''s last heartbeat. Older than STALE_AFTER means the worker is presumed dead.';
comment on column public.chats.attempts is
  'Claims since the last finished turn (or the last user message that made the chat pending): three stale '
  'claims in a row put the chat in error instead of retrying forever.';
comment on column public.chats.status_changed_at is
  'When status last changed: pending chats are claimed oldest first by it.';
comment on column public.chats.active_stream_id is
  'The workflow run that holds this chat: set and cleared together with status running/stopping.';

create index chats_pending_idx on public.chats (status_changed_at, id) where status = 'pending';
create index chats_held_idx on public.chats (heartbeat_at) where status in ('running', 'stopping');

-- ============================================================================
-- Queued user messages
-- ============================================================================
create table public.chat_queued_messages (
  id text primary key,
  chat_id text not null references public.chats (id) on delete cascade,
  message jsonb not null,
  position integer not null,
  created_at timestamptz not null default now(),
  constraint chat_queued_messages_id_chk check (char_length(id) between 1 and 255),
  constraint chat_queued_messages_message_chk check (
    jsonb_typeof(message) = 'object' and message ->> 'id' = id and message ->> 'role' = 'user'
    and jsonb_typeof(message -> 'parts') = 'array'
  ),
  constraint chat_queued_messages_position_chk check (position between 1 and 20),
  constraint chat_queued_messages_chat_id_position_key unique (chat_id, position)
);
comment on table public.chat_queued_messages is
  'User messages sent while the agent was working on the chat, in order (position 1..20). When the turn ends they '
  'move into chat_messages in that order and the chat becomes pending again.';
comment on constraint chat_queued_messages_chat_id_position_key on public.chat_queued_messages is
  'One message per place in the queue; also the index for the chat_id foreign key.';

alter table public.chat_queued_messages enable row level security;
create policy "Users manage the queued messages of their chats"
  on public.chat_queued_messages for all to authenticated
  using (chat_id in (
    select c.id from public.chats c
     where c.session_id in (select s.id from public.sessions s where s.account_id = (select auth.uid()))
  ))
  with check (chat_id in (
    select c.id from public.chats c
     where c.session_id in (select s.id from public.sessions s where s.account_id = (select auth.uid()))
  ));

-- ============================================================================
-- The wake-up call for workers
-- ============================================================================
create function private.announce_pending_chat() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform pg_notify('chat_work', new.id);
  return null;
end;
$$;
comment on function private.announce_pending_chat() is
  'AFTER UPDATE on chats: pg_notify(''chat_work'', chat_id) when a chat becomes pending, delivered at commit.';

create trigger chats_announce_pending after update of status on public.chats
  for each row when (new.status = 'pending' and old.status is distinct from 'pending')
  execute function private.announce_pending_chat();

-- ============================================================================
-- Shapes: the chat as the API shows it now carries its run state
-- ============================================================================
create or replace function private.chat_summary(chat public.chats) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', chat.id,
    'session_id', chat.session_id,
    'title', chat.title,
    'model_id', chat.model_id,
    'status', chat.status,
    'last_error', chat.last_error,
    'status_changed_at', chat.status_changed_at,
    'active_stream_id', chat.active_stream_id,
    'revision', chat.revision,
    'last_message_seq', chat.last_message_seq,
    'last_assistant_message_at', chat.last_assistant_message_at,
    'last_read_at', marker.last_read_at,
    'has_unread', private.is_unread(chat.last_assistant_message_at, marker.last_read_at),
    'created_at', chat.created_at,
    'updated_at', chat.updated_at
  )
  from (select) one
  left join lateral (
    select r.last_read_at
      from public.chat_reads r
      join public.sessions s on s.account_id = r.account_id
     where r.chat_id = chat.id and s.id = chat.session_id
  ) marker on true
$$;

-- ============================================================================
-- end_turn: the one way a turn ends (finish by its run, or stale recovery)
-- ============================================================================
-- Pre: the caller holds the chat's row lock and the chat is running or stopping.
-- Post: the lease is cleared; queued messages are in the history in order; the chat is pending if
-- any were queued, else idle (completed, aborted, or a stopped chat), error (failed), or for an
-- expired lease pending again unless it has been claimed three times (then error).
create function private.end_turn(chat_id text, outcome text) returns public.chats
language plpgsql
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  promoted int;
begin
  -- Queued messages join the history in queue order: each takes its seq and revision there.
  with moved as (
    delete from public.chat_queued_messages q where q.chat_id = end_turn.chat_id returning q.*
  )
  insert into public.chat_messages (id, chat_id, role, parts)
  select m.id, m.chat_id, 'user', m.message from moved m order by m.position
  on conflict (id) do nothing;
  get diagnostics promoted = row_count;

  update public.chats c
     set status = case
           when promoted > 0 then 'pending'
           when outcome = 'failed' then 'error'
           when outcome = 'expired' and c.status = 'running' then
             case when c.attempts >= 3 then 'error' else 'pending' end
           else 'idle'
         end,
         last_error = case
           when outcome = 'failed' then 'turn failed'
           when outcome = 'expired' and c.status = 'running' then 'lease expired'
         end,
         attempts = case
           when outcome = 'expired' and c.status = 'running' and promoted = 0 then c.attempts
           else 0
         end,
         active_stream_id = null,
         runner_id = null,
         heartbeat_at = null,
         status_changed_at = now()
   where c.id = end_turn.chat_id
  returning * into chat;
  return chat;
end;
$$;
comment on function private.end_turn(text, text) is
  'Ends the turn of a running or stopping chat (caller holds its row lock): clears the lease, promotes queued '
  'messages and picks the next status from the outcome (completed, aborted, failed, expired).';

-- ============================================================================
-- recover_stale_chats: workers that stopped heartbeating
-- ============================================================================
-- Pre: none. Post: every running or stopping chat whose heartbeat is older than stale_after has its
-- holding run finished as failed and its turn ended as expired (a stopping chat goes idle: the
-- user asked to stop). Chats another transaction holds are left for the next call.
create function public.recover_stale_chats(stale_after interval default '90 seconds') returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  stale public.chats;
  recovered jsonb := '[]';
begin
  for stale in
    select * from public.chats c
     where c.status in ('running', 'stopping') and c.heartbeat_at < now() - stale_after
     order by c.heartbeat_at
     for update skip locked
  loop
    update public.workflow_runs r
       set status = 'failed',
           finished_at = greatest(now(), r.started_at),
           total_duration_ms = round(extract(epoch from greatest(now(), r.started_at) - r.started_at) * 1000)::bigint
     where r.id = stale.active_stream_id and r.status = 'running';
    perform private.end_turn(stale.id, 'expired');
    recovered := recovered || to_jsonb(stale.id);
  end loop;
  return jsonb_build_object('recovered', recovered);
end;
$$;
comment on function public.recover_stale_chats(interval) is
  'Service role (or pg_cron). Fails the run of every chat whose worker has not heartbeated for stale_after and ends '
  'its turn: pending again, error after three claims without a finished turn, idle if it was stopping. Returns '
  '{recovered: [chat ids]}. claim_chats runs it first, so no scheduler is needed.';

-- ============================================================================
-- claim_chats: a worker takes pending chats
-- ============================================================================
-- Pre: none. Post: up to max_chats of the oldest pending chats (or of chat_ids, if given) are
-- running for runner_id, each held by a new workflow run (status running) whose id is its
-- active_stream_id. SKIP LOCKED: concurrent workers never claim the same chat.
create function public.claim_chats(
  runner_id text,
  max_chats int default 1,
  chat_ids text[] default null,
  stale_after interval default '90 seconds'
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
begin
  if max_chats is null or max_chats not between 1 and 20 then
    raise sqlstate 'PT400' using message = format('limit must be between 1 and 20, not %s', max_chats),
      detail = 'invalid_limit';
  end if;
  perform public.recover_stale_chats(stale_after);

  for chat in
    select * from public.chats c
     where c.status = 'pending' and (claim_chats.chat_ids is null or c.id = any(claim_chats.chat_ids))
     order by c.status_changed_at, c.id
     limit max_chats
     for update skip locked
  loop
    insert into public.workflow_runs (id, chat_id, model_id, started_at)
    values (gen_random_uuid()::text, chat.id, chat.model_id, now())
    returning * into run;
    update public.chats c
       set status = 'running', runner_id = claim_chats.runner_id, heartbeat_at = now(),
           active_stream_id = run.id, attempts = c.attempts + 1, status_changed_at = now()
     where c.id = chat.id
    returning * into chat;
    claims := claims || jsonb_build_object('chat', private.chat_summary(chat), 'run', to_jsonb(run));
  end loop;
  return jsonb_build_object('claims', claims);
end;
$$;
comment on function public.claim_chats(text, int, text[], interval) is
  'Service role. Recovers stale chats, then hands runner_id up to max_chats (1..20) of the oldest pending chats (or '
  'only those of chat_ids), each with a new running workflow run that holds it. Returns {claims: [{chat, run}]}.';

-- ============================================================================
-- heartbeat: a worker proves it is alive and learns what to stop
-- ============================================================================
-- Post: heartbeat_at = now() for the named chats this runner still holds (no revision, no
-- updated_at: lists do not reorder every 30 s). held: those chats; stop: those the user stopped.
create function public.heartbeat(runner_id text, chat_ids text[]) returns jsonb
language sql
security invoker
set search_path = ''
as $$
  with beat as (
    update public.chats c set heartbeat_at = now()
     where c.id = any(heartbeat.chat_ids) and c.runner_id = heartbeat.runner_id
       and c.status in ('running', 'stopping')
    returning c.id, c.status
  )
  select jsonb_build_object(
    'held', coalesce((select jsonb_agg(b.id order by b.id) from beat b), '[]'),
    'stop', coalesce((select jsonb_agg(b.id order by b.id) from beat b where b.status = 'stopping'), '[]')
  )
$$;
comment on function public.heartbeat(text, text[]) is
  'Service role. Refreshes the lease of the named chats runner_id still holds; returns {held, stop}. A chat missing '
  'from held is no longer this worker''s (recovered and claimed by another): drop it.';

-- ============================================================================
-- stop_chat: the user presses stop
-- ============================================================================
-- Post: running -> stopping (the worker sees it on its next heartbeat and finishes as aborted);
-- pending -> idle; any other status unchanged. Returns {chat}.
create function public.stop_chat(chat_id text) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
begin
  select * into chat from public.chats c where c.id = stop_chat.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', stop_chat.chat_id);
  end if;
  if chat.status in ('running', 'pending') then
    update public.chats c
       set status = case chat.status when 'running' then 'stopping' else 'idle' end,
           status_changed_at = now()
     where c.id = chat.id
    returning * into chat;
  end if;
  return jsonb_build_object('chat', private.chat_summary(chat));
end;
$$;
comment on function public.stop_chat(text) is
  'The chat''s owner (or the service role) asks the agent to stop: running -> stopping, pending -> idle, else a '
  'no-op. Returns {chat}.';

-- ============================================================================
-- append_message, again: user messages drive the state machine
-- ============================================================================
-- Same contract as before, plus: a user message to an idle, error or pending chat makes it pending
-- (a pending chat keeps its place in the claim order); to a running or stopping chat it is queued
-- ({queued: true, position}; PT429 queue_full past 20), and a retry of a queued message returns it
-- with created = false. Assistant messages never change the status.
create or replace function public.append_message(chat_id text, message jsonb) returns jsonb
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

  select * into stored from public.chat_messages m where m.id = message_id;
  if found then
    if stored.chat_id <> append_message.chat_id or stored.role <> message_role then
      raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
    end if;
    if message_role = 'user' or stored.parts = message then
      -- User messages are written once, and an unchanged rewrite is a retry: the stored row, unchanged.
      return jsonb_build_object('message', to_jsonb(stored), 'created', false);
    end if;
    -- The agent persists its message once per step: replace it in place, keeping its seq.
    update public.chat_messages m set parts = message where m.id = message_id returning * into stored;
    update public.chats c set last_assistant_message_at = now() where c.id = append_message.chat_id;
    return jsonb_build_object('message', to_jsonb(stored), 'created', false);
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

  return jsonb_build_object('message', to_jsonb(stored), 'created', true);
end;
$$;

-- ============================================================================
-- log_workflow_step, again: finishing the holding run ends the chat's turn
-- ============================================================================
-- Same contract as before, plus: started_at may be left out for a run that exists (a claimed one);
-- for a run that does not, that is PT400. Finishing the run that holds its chat ends the turn
-- (private.end_turn); finishing any other run records only the run. Durations are bigint. A step
-- is stored with every column it names, so a new step column needs no new version of this function.
create or replace function public.log_workflow_step(
  run_id text,
  chat_id text,
  started_at timestamptz default null,
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

-- ============================================================================
-- Who may call what
-- ============================================================================
revoke execute on function
  public.claim_chats(text, int, text[], interval),
  public.heartbeat(text, text[]),
  public.recover_stale_chats(interval),
  public.stop_chat(text)
  from public, anon;
revoke execute on function
  public.claim_chats(text, int, text[], interval),
  public.heartbeat(text, text[]),
  public.recover_stale_chats(interval)
  from authenticated;
revoke execute on function private.end_turn(text, text), private.announce_pending_chat() from public;
grant execute on function private.end_turn(text, text) to service_role;
