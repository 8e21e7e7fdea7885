-- Run control: which chat needs the agent, which worker holds it, whether that worker is alive, and
-- whether the user asked it to stop. One state machine, in the chat's row (chats.status and the lease
-- columns, 02_sessions_chats_messages.sql), changed only by the functions below, each under the chat's
-- row lock and in one transaction:
--
--                 user message                 claim_chats               finish (completed/aborted)
--   idle/error ─────────────────► pending ──────────────────► running ─────────────────────────► idle
--    ▲      ▲                     │  │  ▲                       │  │     finish (failed)          error
--    │      │  stop_chat → idle   │  │  │  end of turn with     │  │     end of turn + queue ───► pending
--    │      └─────────────────────┘  │  └── queued messages ────┘  │
--    │                               │                             │ stop_chat, interrupt
--    │   claim_chats: the account    │    stale (no heartbeat) ◄───┤
--    └── is at or over its budget ───┘    → pending, or error      ▼
--        → error (budget_exceeded)          after 3 claims     stopping ── finish / stale ──► idle
--                                                                  (error if the run failed, pending with a queue)
--
--   running ── finish (completed) asking a tool approval ──► waiting ── every approval answered ──► pending
--                                                            waiting ── user message (denies: superseded) ──► pending
--                                                            waiting ── stop_chat, approval timeout (denied) ──► idle
--   any status ── edit_message, regenerate (a turn in flight ends aborted) ──► pending (09_conversation_control.sql)
--
-- * A user message to an idle, error, waiting or pending chat enters the history and makes it pending;
--   to a running or stopping chat it waits in chat_queued_messages (at most 20) until the turn ends, or
--   with interrupt at the front of the queue, stopping the turn.
-- * claim_chats hands the oldest pending chats (of the worker's models, if it names them) to a worker
--   (FOR UPDATE SKIP LOCKED) and opens the workflow run that holds each: chats.active_stream_id is
--   that run's id, runner_id the worker's, heartbeat_at its last sign of life. The three are set and
--   cleared together with running and stopping (chats_lease_chk). A pending chat whose account is at
--   or over its budget goes to error ('budget_exceeded') instead of to the worker.
-- * Every arrow out of running or stopping but stop_chat's, an interrupt's and a cut's is an end of
--   turn, private.end_turn: it closes the holding run's live streams (07_streaming.sql: finish, abort,
--   or an error chunk then abort), clears the lease and moves the queued messages into the history. A
--   cut (private.cut_history) ends the turn aborted itself and drops the queue instead.
-- * Only the run that holds a chat can end its turn (finishing another run records just the run), and
--   only the runner holding a chat writes on behalf of its run: the assistant message, steps and
--   stream chunks name it (runner_id), else PT409 not_held. stop_chat reaches the worker through
--   heartbeat and append_chunks ({stop: true}).
-- * Every transition takes a chat revision (the follow stream shows status changes live); a
--   heartbeat takes none and leaves updated_at alone.
-- * The move to pending sends pg_notify('chat_work', chat_id): workers wake at once, and poll as a
--   backstop.
--
-- Locks are always taken chat first, then run (then stream), so finishing and recovery never deadlock.

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
  constraint chat_queued_messages_chat_id_position_key unique (chat_id, position) deferrable initially immediate
);
comment on table public.chat_queued_messages is
  'User messages sent while the agent was working on the chat, in order (position 1..20). When the turn ends they '
  'move into chat_messages in that order and the chat becomes pending again.';
comment on constraint chat_queued_messages_chat_id_position_key on public.chat_queued_messages is
  'One message per place in the queue (checked at the end of each statement, so a renumbering is one statement); '
  'also the index for the chat_id foreign key.';

alter table public.chat_queued_messages enable row level security;
create policy "Users manage the queued messages of their chats"
  on public.chat_queued_messages for all to authenticated
  using (exists (select from public.chats c where c.id = chat_queued_messages.chat_id offset 0))
  with check (exists (select from public.chats c where c.id = chat_queued_messages.chat_id offset 0));

-- ============================================================================
-- The wake-up call for workers
-- ============================================================================
-- Sent at commit, or after it (private.send_announcements, 03_reads_and_follow.sql) when the
-- transaction set chat.announce = after_commit.
create function private.announce_pending_chat() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if not private.defer_announcement('chat.became_pending', new.id) then
    perform pg_notify('chat_work', new.id);
  end if;
  return null;
end;
$$;
comment on function private.announce_pending_chat() is
  'AFTER UPDATE on chats: pg_notify(''chat_work'', chat_id) when a chat becomes pending, at commit, or after it '
  'through private.send_announcements() when the transaction set chat.announce = after_commit.';

create trigger chats_announce_pending after update of status on public.chats
  for each row when (new.status = 'pending' and old.status is distinct from 'pending')
  execute function private.announce_pending_chat();

-- ============================================================================
-- end_turn: the one way a turn ends (finish by its run, or stale recovery)
-- ============================================================================
-- Pre: the caller holds the chat's row lock and the chat is running or stopping.
-- Post: the holding run's live streams are closed; the lease is cleared; queued messages are in the
-- history in order; the chat is pending if any were queued, else idle (completed, aborted, or a
-- stopped chat), error (failed), or for an expired lease pending again unless it has been claimed
-- three times (then error).
create function private.end_turn(chat_id text, outcome text) returns public.chats
language plpgsql
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  promoted int;
  asks_approval boolean;
begin
  select * into chat from public.chats c where c.id = end_turn.chat_id;
  perform private.close_streams(chat, outcome);

  -- Queued messages answer the approvals the turn asked for: the user moved on.
  if exists (select from public.chat_queued_messages q where q.chat_id = end_turn.chat_id) then
    perform private.deny_open_approvals(chat, 'superseded');
  end if;

  -- Queued messages join the history in queue order: each takes its seq and revision there.
  with moved as (
    delete from public.chat_queued_messages q where q.chat_id = end_turn.chat_id returning q.*
  )
  insert into public.chat_messages (id, chat_id, role, parts, written_by)
  select m.id, m.chat_id, 'user', m.message, 'owner' from moved m order by m.position
  on conflict (id) do nothing;
  get diagnostics promoted = row_count;

  select private.has_open_approvals(m.parts) into asks_approval
    from public.chat_messages m
   where m.chat_id = end_turn.chat_id and m.seq = (select c.last_message_seq from public.chats c where c.id = end_turn.chat_id);
  if asks_approval and outcome <> 'completed' then
    -- A turn stopped, failed or lost while asking: nobody will answer for it.
    select * into chat from public.chats c where c.id = end_turn.chat_id;
    perform private.deny_open_approvals(chat, case outcome when 'aborted' then 'stopped' else 'the turn failed' end);
    asks_approval := false;
  end if;

  update public.chats c
     set status = case
           when promoted > 0 then 'pending'
           when outcome = 'failed' then 'error'
           when outcome = 'expired' and c.status = 'running' then
             case when c.attempts >= 3 then 'error' else 'pending' end
           when coalesce(asks_approval, false) then 'waiting'
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
  'Ends the turn of a running or stopping chat (caller holds its row lock): closes its live streams, clears the '
  'lease, promotes queued messages (denying approvals the turn asked for: superseded) and picks the next status '
  'from the outcome (completed, aborted, failed, expired): waiting when a completed turn asked for approval.';

-- ============================================================================
-- recover_stale_chats: workers that stopped heartbeating
-- ============================================================================
-- Pre: none. Post: every running or stopping chat whose heartbeat is older than stale_after has its
-- holding run finished as failed and its turn ended as expired (a stopping chat goes idle: the
-- user asked to stop). Every chat waiting for approval longer than approval_timeout has its open
-- approvals denied (timed out) and is idle. Chats another transaction holds are left for the next
-- call. Up to 1,000 live streams closed longer ago than stream_keep (STREAM_KEEP_SECONDS in the
-- functions) are deleted.
create function public.recover_stale_chats(
  stale_after interval default '90 seconds',
  stream_keep interval default '300 seconds',
  approval_timeout interval default '30 minutes'
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  stale public.chats;
  recovered jsonb := '[]';
  unanswered jsonb := '[]';
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

  for stale in
    select * from public.chats c
     where c.status = 'waiting' and c.status_changed_at < now() - approval_timeout
     order by c.status_changed_at
     limit 1000
     for update skip locked
  loop
    perform private.deny_open_approvals(stale, 'timed out');
    update public.chats c set status = 'idle', status_changed_at = now() where c.id = stale.id;
    unanswered := unanswered || to_jsonb(stale.id);
  end loop;

  delete from public.chat_streams s
   where s.message_id in (
     select o.message_id from public.chat_streams o
      where o.closed_at < now() - stream_keep
      order by o.closed_at
      limit 1000
        for update skip locked
   );
  return jsonb_build_object('recovered', recovered, 'timed_out', unanswered);
end;
$$;
comment on function public.recover_stale_chats(interval, interval, interval) is
  'Service role (or pg_cron). Fails the run of every chat whose worker has not heartbeated for stale_after and ends '
  'its turn: pending again, error after three claims without a finished turn, idle if it was stopping. Denies the '
  'approvals of chats waiting longer than approval_timeout (idle). Deletes up to 1,000 live streams closed for longer '
  'than stream_keep. Returns {recovered, timed_out: [chat ids]}. claim_chats runs it first, so no scheduler is needed.';

-- ============================================================================
-- claim_chats: a worker takes pending chats
-- ============================================================================
-- Pre: none. Post: stale chats are recovered (and unanswered approvals timed out); then up to
-- max_chats of the oldest pending chats (only those of chat_ids, and of model_ids when given, ''
-- standing for a chat without a model) are running for runner_id, each held by a new workflow run
-- (status running) whose id is its active_stream_id. A pending chat whose account is at or over its
-- budget goes to error with last_error 'budget_exceeded' instead, and does not count against
-- max_chats (the next pending chats are taken in its place). SKIP LOCKED: concurrent workers never
-- claim the same chat.
create function public.claim_chats(
  runner_id text,
  max_chats int default 1,
  chat_ids text[] default null,
  stale_after interval default '90 seconds',
  stream_keep interval default '300 seconds',
  model_ids text[] default null,
  approval_timeout interval default '30 minutes'
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
  perform public.recover_stale_chats(stale_after, stream_keep, approval_timeout);

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
comment on function public.claim_chats(text, int, text[], interval, interval, text[], interval) is
  'Service role. Recovers stale chats (times out unanswered approvals, deletes streams closed longer than '
  'stream_keep), then hands runner_id up to max_chats (1..20) of the oldest pending chats (only those of chat_ids, and '
  'of model_ids when given, an empty string standing for a chat without a model) whose account is within its budget, '
  'each with a new running workflow run that holds it; an over-budget chat goes to error (budget_exceeded). Returns '
  '{claims: [{chat, run}]}.';

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
-- Post: running -> stopping (the worker sees it on its next heartbeat or batch of chunks and finishes
-- as aborted); pending -> idle; any other status unchanged. Returns {chat}.
create function public.stop_chat(chat_id text) returns jsonb
language plpgsql
security invoker
set search_path = ''
set chat.transition = 'on' -- may move server-owned columns (08_hardening_and_grants.sql)
as $$
#variable_conflict use_column
declare
  chat public.chats;
begin
  select * into chat from public.chats c where c.id = stop_chat.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', stop_chat.chat_id);
  end if;
  if chat.status = 'waiting' then
    perform private.deny_open_approvals(chat, 'stopped');
  end if;
  if chat.status in ('running', 'pending', 'waiting') then
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
  'The chat''s owner (or the service role) asks the agent to stop: running -> stopping, pending -> idle, waiting -> '
  'idle with its open approvals denied (stopped), else a no-op. Returns {chat}.';

-- ============================================================================
-- log_workflow_step: the worker records its run, its steps and its end (service role)
-- ============================================================================
-- started_at creates the run if it does not exist (a claimed run exists already; a run that does not,
-- without it, is PT400 unknown_run). A step is stored with every column it names, so a new step column
-- needs no new version of this function; its usage goes to the totals by trigger
-- (05_usage_and_budgets.sql). Steps recorded into a chat a runner holds must name that runner
-- (runner_id; PT409 not_held). finish_status closes the run; finishing the run that holds its chat
-- ends the turn (private.end_turn), finishing any other run records only the run, so finishing needs
-- no runner name. Durations are bigint.
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
  'Service role only. Creates the run when started_at is given (a run that does not exist without it is PT400 '
  'unknown_run), records steps (duration computed here; a step already recorded is reported with recorded = false; '
  'into a chat a runner holds only when runner_id names it), and closes the run when finish_status is given, ending '
  'its chat''s turn if the run holds the chat. A finished run never runs again; finishing with a different status is '
  'PT409; finishing before the start is PT400.';

-- ============================================================================
-- Who may call what
-- ============================================================================
-- Only the trusted backend (the worker, through the edge functions) runs turns; the user may stop one.
revoke execute on function
  public.claim_chats(text, int, text[], interval, interval, text[], interval),
  public.heartbeat(text, text[]),
  public.recover_stale_chats(interval, interval, interval),
  public.log_workflow_step(text, text, timestamptz, text, jsonb, text, timestamptz, text)
  from public, anon, authenticated;
revoke execute on function public.stop_chat(text) from public, anon;
revoke execute on function private.end_turn(text, text), private.announce_pending_chat() from public;
grant execute on function private.end_turn(text, text) to service_role;
