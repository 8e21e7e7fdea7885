-- Sessions, chats and messages: the data model and its write operations. Accounts
-- (01_ownership_and_helpers.sql) own sessions (an agent run bound to a sandbox and a repo state),
-- sessions hold chats, chats hold messages and per-account read markers, and the durable workflow
-- runs (one per agent turn) record their timed steps.
--
-- Each table is defined here whole, with the columns later features added at its end (in the order
-- the migrations added them, which is the order the database has them); the function that keeps a
-- column lives in that feature's file, named next to the column.
--
--   create_session_with_chat  a new agent session and its first chat (and the account on first use)
--   create_chat               a chat in a session the caller owns
--   append_message            a UIMessage into a chat's history (or its queue while the agent works)
--   mark_read                 an account's read marker moves forward

-- Function bodies here use tables that later files create (append_message: the run-control queue):
-- they are checked when first called, not while this file loads.
set check_function_bodies = off;

-- ============================================================================
-- sessions
-- ============================================================================
create table public.sessions (
  id text primary key default gen_random_uuid()::text,
  account_id uuid not null references public.accounts (id) on delete cascade,
  title text not null,
  status text not null default 'running',
  repo_owner text,
  repo_name text,
  branch text,
  clone_url text,
  is_new_branch boolean not null default false,
  auto_commit_push_override boolean,
  global_skill_refs jsonb not null default '[]',
  sandbox_state jsonb,
  lifecycle_state text,
  lifecycle_version integer not null default 0,
  last_activity_at timestamptz,
  sandbox_expires_at timestamptz,
  hibernate_after timestamptz,
  lifecycle_run_id text,
  lifecycle_error text,
  lines_added integer not null default 0,
  lines_removed integer not null default 0,
  snapshot_url text,
  snapshot_created_at timestamptz,
  snapshot_size_bytes bigint,
  cached_diff jsonb,
  cached_diff_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint sessions_id_chk check (char_length(id) between 1 and 255),
  constraint sessions_status_chk check (status in ('running', 'completed', 'failed', 'archived')),
  constraint sessions_lifecycle_state_chk check (
    lifecycle_state in ('provisioning', 'active', 'hibernating', 'hibernated', 'restoring', 'archived', 'failed')
  ),
  constraint sessions_global_skill_refs_chk check (jsonb_typeof(global_skill_refs) = 'array'),
  constraint sessions_lifecycle_version_chk check (lifecycle_version >= 0),
  constraint sessions_lines_chk check (lines_added >= 0 and lines_removed >= 0),
  constraint sessions_snapshot_size_bytes_chk check (snapshot_size_bytes >= 0)
);
comment on table public.sessions is
  'An agent run bound to a sandbox and a repository state. Owned by one account; holds its chats.';
comment on column public.sessions.status is
  'What the user sees: running, completed, failed or archived. Independent of the sandbox lifecycle.';
comment on column public.sessions.is_new_branch is
  'True when the agent created a branch for this session rather than checking out an existing one.';
comment on column public.sessions.auto_commit_push_override is
  'Per-session override of the account''s auto commit-and-push setting; NULL follows the account.';
comment on column public.sessions.global_skill_refs is
  'JSON array of the skills enabled for this session, as references the agent resolves at run time.';
comment on column public.sessions.sandbox_state is
  'Provider-specific sandbox handle (ids, ports, ...) needed to reconnect to or restore the sandbox.';
comment on column public.sessions.lifecycle_state is
  'Where the sandbox is in its lifecycle; NULL before the first sandbox is requested.';
comment on column public.sessions.lifecycle_version is
  'Incremented on every lifecycle transition: writers compare it to detect a concurrent transition.';
comment on column public.sessions.last_activity_at is
  'Last user or agent activity; with hibernate_after it decides when the sandbox may hibernate.';
comment on column public.sessions.hibernate_after is
  'The time after which an idle sandbox may be hibernated.';
comment on column public.sessions.lifecycle_run_id is
  'The workflow run currently driving a lifecycle transition, if any.';
comment on column public.sessions.lifecycle_error is
  'Why the last lifecycle transition failed, for display and retry decisions.';
comment on column public.sessions.lines_added is 'Lines added by the session''s changes so far.';
comment on column public.sessions.lines_removed is 'Lines removed by the session''s changes so far.';
comment on column public.sessions.snapshot_url is
  'Where the hibernated sandbox''s filesystem snapshot is stored.';
comment on column public.sessions.snapshot_size_bytes is
  'Size of that snapshot; bigint because snapshots pass 2 GiB.';
comment on column public.sessions.cached_diff is
  'The last computed diff of the sandbox against the base branch, served while the sandbox sleeps.';

-- The session list: the caller's sessions, newest activity first, with id as the tie-breaker of the
-- keyset cursor (list_sessions). Also the index of the account_id foreign key.
create index sessions_account_id_updated_at_idx on public.sessions (account_id, updated_at desc, id desc);
-- purge_archived looks for old sessions without chats.
create index sessions_updated_at_idx on public.sessions (updated_at);

-- ============================================================================
-- chats
-- ============================================================================
create table public.chats (
  id text primary key default gen_random_uuid()::text,
  session_id text not null references public.sessions (id) on delete cascade,
  title text not null default 'New chat',
  model_id text,
  active_stream_id text,
  last_assistant_message_at timestamptz,
  last_message_seq bigint not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- The change cursor a follower resumes from (03_reads_and_follow.sql).
  revision bigint not null default 0,
  revision_txid bigint,
  -- Run control: where the agent is with the chat and which worker holds it (04_run_control.sql).
  status text not null default 'idle',
  last_error text,
  runner_id text,
  heartbeat_at timestamptz,
  attempts integer not null default 0,
  status_changed_at timestamptz not null default now(),
  -- Retention (06_context_and_retention.sql).
  archived_at timestamptz,
  -- Conversation control: how many times the visible history was cut (09_conversation_control.sql).
  history_version integer not null default 0,
  -- The session's account, kept on the chat for the chat list's index (set by trigger below).
  account_id uuid not null references public.accounts (id) on delete cascade,
  constraint chats_id_chk check (char_length(id) between 1 and 255),
  constraint chats_last_message_seq_chk check (last_message_seq >= 0),
  constraint chats_revision_chk check (revision >= 0),
  constraint chats_status_chk check (status in ('idle', 'pending', 'running', 'stopping', 'waiting', 'error')),
  -- The lease: a worker holds the chat exactly while it is running or stopping.
  constraint chats_lease_chk check (
    (status in ('running', 'stopping')) = (active_stream_id is not null)
    and (status in ('running', 'stopping')) = (runner_id is not null)
    and (status in ('running', 'stopping')) = (heartbeat_at is not null)
  ),
  constraint chats_attempts_chk check (attempts >= 0),
  constraint chats_runner_id_chk check (char_length(runner_id) between 1 and 255),
  constraint chats_history_version_chk check (history_version >= 0)
);
comment on table public.chats is
  'A conversation thread with the agent inside a session. Its account is the session''s account.';
comment on column public.chats.title is
  'Shown in the chat list. Starts as ''New chat''; the first user message replaces that default.';
comment on column public.chats.model_id is
  'The model the agent uses in this chat. No default on purpose: a default would silently record '
  'the wrong model for chats created without one.';
comment on column public.chats.active_stream_id is
  'The workflow run that holds this chat: set and cleared together with status running/stopping.';
comment on column public.chats.last_assistant_message_at is
  'When the agent last wrote to this chat (an assistant message added or rewritten); compared with '
  'chat_reads.last_read_at for the unread flag.';
comment on column public.chats.last_message_seq is
  'The seq given to this chat''s newest message. Each insert into chat_messages increments it, '
  'which takes this row''s lock: that lock is what orders seq by commit.';
comment on column public.chats.revision is
  'Per-chat change counter: the revision of the chat''s latest change a follower must see. Followers resume from it '
  '(follow-chat''s event ids: <revision>, or <revision>.<stream>.<chunk> while a stream is live).';
comment on column public.chats.revision_txid is
  'Bookkeeping for revision: the transaction that took the current revision, so further changes of '
  'the chat''s own state in that transaction share it. Not part of the API.';
comment on column public.chats.status is
  'Where the agent is with this chat: idle (nothing to do), pending (waiting for a worker), running (a worker holds '
  'it), stopping (the user asked to stop; the worker must end the turn), waiting (the agent asked for the user''s '
  'approval of a tool call) or error (the last turn failed, or a claim found the account over its budget: last_error '
  'says which).';
comment on column public.chats.last_error is
  'Why the chat is in error: ''turn failed'', ''lease expired'' (claimed three times without a finished turn) or '
  '''budget_exceeded''; NULL after a good turn.';
comment on column public.chats.runner_id is 'The worker holding the chat while running or stopping.';
comment on column public.chats.heartbeat_at is
  'The holding worker''s last heartbeat. Older than STALE_AFTER means the worker is presumed dead.';
comment on column public.chats.attempts is
  'Claims since the last finished turn (or the last user message that made the chat pending): three stale '
  'claims in a row put the chat in error instead of retrying forever.';
comment on column public.chats.status_changed_at is
  'When status last changed: pending chats are claimed oldest first by it.';
comment on column public.chats.archived_at is
  'When the owner archived the chat; NULL while it is not archived. Lists hide archived chats unless asked; '
  'purge_archived deletes a chat archived (and idle) for longer than the retention period.';
comment on column public.chats.history_version is
  'How many times the visible history was cut (an edit or a regenerate): 0, 1, 2, ... The messages cut are kept in '
  'chat_cut_messages, readable as the earlier versions.';
comment on column public.chats.account_id is
  'The account of the chat''s session (set on insert; a session''s account never changes): the chat list''s key.';

-- The chat list, newest activity first (list_chats); also the index of the session_id foreign key.
create index chats_session_id_updated_at_idx on public.chats (session_id, updated_at desc, id desc);
-- claim_chats takes the oldest pending chats; stale recovery looks at the held ones' heartbeats.
create index chats_pending_idx on public.chats (status_changed_at, id) where status = 'pending';
create index chats_held_idx on public.chats (heartbeat_at) where status in ('running', 'stopping');
-- purge_archived looks for chats archived long ago.
create index chats_archived_at_idx on public.chats (archived_at) where archived_at is not null;
-- The chat list per account, newest activity first (list_chats); also the index of the account_id foreign key.
create index chats_account_id_updated_at_idx on public.chats (account_id, updated_at desc, id desc);
-- recover_stale_chats times out approvals nobody answered.
create index chats_waiting_idx on public.chats (status_changed_at) where status = 'waiting';

-- A chat's account is its session's: taken from the session as the chat is inserted.
create function private.take_session_account() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  select s.account_id into new.account_id from public.sessions s where s.id = new.session_id;
  if new.account_id is null then
    raise foreign_key_violation using
      message = format('session %s does not exist', new.session_id),
      constraint = 'chats_session_id_fkey';
  end if;
  return new;
end;
$$;
comment on function private.take_session_account() is
  'BEFORE INSERT on chats: the chat''s account_id is its session''s.';
create trigger chats_take_session_account before insert on public.chats
  for each row execute function private.take_session_account();

-- ============================================================================
-- chat_messages
-- ============================================================================
create table public.chat_messages (
  id text primary key,
  chat_id text not null references public.chats (id) on delete cascade,
  role text not null,
  parts jsonb not null,
  seq bigint not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Defaults to 0 only so inserts may omit it, like seq: a trigger always assigns it (03_reads_and_follow.sql).
  revision bigint not null default 0,
  -- Conversation control (09_conversation_control.sql): the version it entered the history in, its author.
  history_version integer not null default 0,
  written_by text not null default 'backend',
  constraint chat_messages_id_chk check (char_length(id) between 1 and 255),
  constraint chat_messages_role_chk check (role in ('user', 'assistant')),
  constraint chat_messages_parts_chk check (
    jsonb_typeof(parts) = 'object'
    and parts ->> 'id' = id
    and parts ->> 'role' = role
    and jsonb_typeof(parts -> 'parts') = 'array'
  ),
  constraint chat_messages_seq_chk check (seq >= 1),
  constraint chat_messages_chat_id_seq_key unique (chat_id, seq),
  constraint chat_messages_written_by_chk check (written_by in ('owner', 'backend'))
);
comment on table public.chat_messages is
  'The messages of a chat, each an AI SDK UIMessage stored whole. User messages are written once; '
  'assistant messages are rewritten once per agent step while the agent works.';
comment on column public.chat_messages.id is 'The UIMessage id, chosen by the client or the agent.';
comment on column public.chat_messages.parts is
  'The whole UIMessage ({id, role, parts[], metadata}), so the client gets back exactly what it sent. '
  'Its id and role must equal the row''s.';
comment on column public.chat_messages.seq is
  'Append order within the chat: 1, 2, 3, ... always assigned on insert under the chat''s row lock '
  '(the default only lets inserts omit it), so seq '
  'increases in commit order and a reader paging "after seq N" never misses a message. '
  'created_at is not an order: messages written in one transaction share it.';
comment on column public.chat_messages.revision is
  'The chat revision of this message''s last change (its insert, or the latest rewrite of an assistant '
  'message). A follower asking for "revision > N" gets every message changed since N once, at its latest state.';
comment on column public.chat_messages.history_version is
  'The history version in which this message (as it now reads) entered the visible history.';
comment on column public.chat_messages.written_by is
  'Who wrote the message: owner (the chat''s owner, through the API) or backend (the service role: the agent''s '
  'worker, or the app''s server). An assistant message the backend wrote changes only by the backend, or by the '
  'owner''s answer to a tool approval it asks for (respond_to_approval).';
comment on constraint chat_messages_chat_id_seq_key on public.chat_messages is
  'Also the index behind "messages of a chat in order" and "the page after seq N".';

-- What changed in a chat after a revision (chat_changes, the follow stream's reads).
create index chat_messages_chat_id_revision_idx on public.chat_messages (chat_id, revision);

-- Assigns seq (and the revision) from the chat's counters. The UPDATE takes the chat's row lock and
-- holds it until commit, so two appends to one chat commit in seq order, whatever path inserted them.
create function private.assign_message_seq() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.chats
     set last_message_seq = last_message_seq + 1,
         revision = revision + 1
   where id = new.chat_id
  returning last_message_seq, revision, history_version into new.seq, new.revision, new.history_version;
  if new.seq is null then
    raise foreign_key_violation using
      message = format('chat %s does not exist', new.chat_id),
      constraint = 'chat_messages_chat_id_fkey';
  end if;
  -- An API role writes as the owner; the backend names the author (default backend: the owner for a
  -- queued message joining the history).
  if current_user in ('authenticated', 'anon') then
    new.written_by := 'owner';
  end if;
  return new;
end;
$$;
comment on function private.assign_message_seq() is
  'BEFORE INSERT on chat_messages: gives the message the next seq and the next revision of its chat (under the '
  'chat''s row lock), the chat''s history version, and who wrote it (owner or backend).';

-- A message's place in its chat is permanent: moving it would break readers paging by seq.
create function private.keep_message_position() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.chat_id is distinct from old.chat_id or new.seq is distinct from old.seq then
    raise check_violation using
      message = 'a message''s chat_id and seq cannot change',
      constraint = 'chat_messages_position_chk';
  end if;
  return new;
end;
$$;
comment on function private.keep_message_position() is
  'BEFORE UPDATE on chat_messages: refuses to move a message to another chat or seq.';

create trigger chat_messages_assign_seq
  before insert on public.chat_messages
  for each row execute function private.assign_message_seq();
create trigger chat_messages_keep_position
  before update on public.chat_messages
  for each row execute function private.keep_message_position();

-- ============================================================================
-- chat_reads
-- ============================================================================
create table public.chat_reads (
  account_id uuid not null references public.accounts (id) on delete cascade,
  chat_id text not null references public.chats (id) on delete cascade,
  last_read_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (account_id, chat_id)
);
create index chat_reads_chat_id_idx on public.chat_reads (chat_id);

comment on table public.chat_reads is
  'Per account and chat, how far the account has read. A chat is unread when the agent wrote after '
  'last_read_at. The primary key leads with account_id, which also indexes that foreign key.';
comment on column public.chat_reads.last_read_at is
  'Only moves forward: the mark-read operation keeps the later of the stored and the new time.';

-- ============================================================================
-- workflow_runs
-- ============================================================================
create table public.workflow_runs (
  id text primary key,
  chat_id text not null references public.chats (id) on delete cascade,
  model_id text,
  status text not null default 'running',
  started_at timestamptz not null,
  finished_at timestamptz,
  -- bigint: an integer holds at most about 24.8 days of milliseconds.
  total_duration_ms bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint workflow_runs_id_chk check (char_length(id) between 1 and 255),
  constraint workflow_runs_status_chk check (status in ('running', 'completed', 'aborted', 'failed')),
  constraint workflow_runs_finished_chk check (
    (status = 'running') = (finished_at is null)
    and (status = 'running') = (total_duration_ms is null)
  ),
  constraint workflow_runs_finished_at_chk check (finished_at >= started_at),
  constraint workflow_runs_total_duration_ms_chk check (total_duration_ms >= 0)
);
create index workflow_runs_chat_id_idx on public.workflow_runs (chat_id);

comment on table public.workflow_runs is
  'One durable workflow execution, usually one agent turn in a chat. Only chat_id is stored: the '
  'session and account are reached through the chat, so a run cannot point at two owners.';
comment on column public.workflow_runs.id is 'The workflow engine''s run id.';
comment on column public.workflow_runs.status is
  'running until finished; then completed, aborted or failed, and never running again.';
comment on column public.workflow_runs.finished_at is 'NULL exactly while status = running.';
comment on column public.workflow_runs.total_duration_ms is
  'finished_at - started_at in milliseconds; NULL exactly while status = running.';

-- ============================================================================
-- workflow_run_steps
-- ============================================================================
create table public.workflow_run_steps (
  id text primary key default gen_random_uuid()::text,
  workflow_run_id text not null references public.workflow_runs (id) on delete cascade,
  step_number integer not null,
  started_at timestamptz not null,
  finished_at timestamptz not null,
  duration_ms bigint not null,
  finish_reason text,
  raw_finish_reason text,
  created_at timestamptz not null default now(),
  -- What the step used (05_usage_and_budgets.sql adds every step to the totals).
  provider text,
  model_id text,
  agent_type text,
  input_tokens bigint,
  no_cache_tokens bigint,
  cache_read_tokens bigint,
  cache_write_tokens bigint,
  output_tokens bigint,
  text_tokens bigint,
  reasoning_tokens bigint,
  total_tokens bigint,
  tool_call_count bigint,
  cost_micros bigint,
  constraint workflow_run_steps_id_chk check (char_length(id) between 1 and 255),
  constraint workflow_run_steps_step_number_chk check (step_number >= 1),
  constraint workflow_run_steps_finished_at_chk check (finished_at >= started_at),
  constraint workflow_run_steps_duration_ms_chk check (duration_ms >= 0),
  constraint workflow_run_steps_workflow_run_id_step_number_key unique (workflow_run_id, step_number),
  constraint workflow_run_steps_provider_chk check (char_length(provider) between 1 and 255),
  constraint workflow_run_steps_model_id_chk check (char_length(model_id) between 1 and 255),
  constraint workflow_run_steps_agent_type_chk check (agent_type in ('main', 'subagent')),
  -- NULLs pass a CHECK, so each count is either unknown or non-negative.
  constraint workflow_run_steps_usage_chk check (
    input_tokens >= 0 and no_cache_tokens >= 0 and cache_read_tokens >= 0 and cache_write_tokens >= 0
    and output_tokens >= 0 and text_tokens >= 0 and reasoning_tokens >= 0 and total_tokens >= 0
    and tool_call_count >= 0 and cost_micros >= 0
  )
);

comment on table public.workflow_run_steps is
  'One step (one model call and its tool calls) of a workflow run: its timing, finish reason, model and usage '
  '(tokens, tool calls, cost). Written once: a step is never updated, so the table has no updated_at.';
comment on column public.workflow_run_steps.duration_ms is
  'finished_at - started_at in milliseconds, computed by the server rather than trusted from clients.';
comment on column public.workflow_run_steps.finish_reason is
  'The AI SDK''s normalised finish reason (stop, tool-calls, length, ...).';
comment on column public.workflow_run_steps.raw_finish_reason is
  'The provider''s own finish reason, kept for debugging.';
comment on column public.workflow_run_steps.provider is
  'The provider that served the step''s model call (anthropic, openai, gateway, ...); NULL when not said.';
comment on column public.workflow_run_steps.model_id is
  'The model of this step; NULL when not said, and then the run''s model_id is the one counted.';
comment on column public.workflow_run_steps.agent_type is
  'main or subagent: a turn with subagents logs their model calls as steps of the same run. NULL when not said '
  '(steps logged before usage was recorded): counted as main.';
comment on column public.workflow_run_steps.input_tokens is
  'AI SDK inputTokens. Every token column is NULL when the provider did not report it, never a guess.';
comment on column public.workflow_run_steps.no_cache_tokens is 'AI SDK inputTokenDetails.noCacheTokens.';
comment on column public.workflow_run_steps.cache_read_tokens is 'AI SDK inputTokenDetails.cacheReadTokens.';
comment on column public.workflow_run_steps.cache_write_tokens is 'AI SDK inputTokenDetails.cacheWriteTokens.';
comment on column public.workflow_run_steps.output_tokens is 'AI SDK outputTokens.';
comment on column public.workflow_run_steps.text_tokens is 'AI SDK outputTokenDetails.textTokens.';
comment on column public.workflow_run_steps.reasoning_tokens is 'AI SDK outputTokenDetails.reasoningTokens.';
comment on column public.workflow_run_steps.total_tokens is
  'AI SDK totalTokens (which the SDK itself takes as input + output when the provider does not say).';
comment on column public.workflow_run_steps.tool_call_count is 'How many tool calls the step made.';
comment on column public.workflow_run_steps.cost_micros is
  'What the step cost in micro-USD (1 USD = 1,000,000), e.g. from the AI Gateway''s provider metadata. NULL '
  'when unknown: never estimated here. Totals count such steps in unpriced_steps.';
comment on constraint workflow_run_steps_workflow_run_id_step_number_key on public.workflow_run_steps is
  'A step is recorded once per run; also the index for the workflow_run_id foreign key.';

-- ============================================================================
-- updated_at and row level security
-- ============================================================================
-- chats keep their updated_at with private.track_chat_change() (03_reads_and_follow.sql): a chat's
-- updated_at moves only for activity.
create trigger sessions_set_updated_at before update on public.sessions
  for each row execute function private.set_updated_at();
create trigger chat_messages_set_updated_at before update on public.chat_messages
  for each row execute function private.set_updated_at();
create trigger chat_reads_set_updated_at before update on public.chat_reads
  for each row execute function private.set_updated_at();
create trigger workflow_runs_set_updated_at before update on public.workflow_runs
  for each row execute function private.set_updated_at();

alter table public.sessions enable row level security;
alter table public.chats enable row level security;
alter table public.chat_messages enable row level security;
alter table public.chat_reads enable row level security;
alter table public.workflow_runs enable row level security;
alter table public.workflow_run_steps enable row level security;

-- A signed-in user reads only what they own and writes their own sessions, chats, messages and read
-- markers (which columns they may write: 08_hardening_and_grants.sql). Workflow runs and steps are
-- written by the trusted backend alone (service_role, which bypasses RLS).
create policy "Users manage their own sessions"
  on public.sessions for all to authenticated
  using (account_id = (select auth.uid()))
  with check (account_id = (select auth.uid()));

create policy "Users manage the chats of their sessions"
  on public.chats for all to authenticated
  using (account_id = (select auth.uid()))
  with check (account_id = (select auth.uid()));

create policy "Users manage the messages of their chats"
  on public.chat_messages for all to authenticated
  using (exists (select from public.chats c where c.id = chat_messages.chat_id offset 0))
  with check (exists (select from public.chats c where c.id = chat_messages.chat_id offset 0));

-- A user's own markers, and only on chats they own.
create policy "Users manage their own read markers"
  on public.chat_reads for all to authenticated
  using (account_id = (select auth.uid()))
  with check (account_id = (select auth.uid()) and exists (select from public.chats c where c.id = chat_reads.chat_id offset 0));

create policy "Users see the workflow runs of their chats"
  on public.workflow_runs for select to authenticated
  using (exists (select from public.chats c where c.id = workflow_runs.chat_id offset 0));

create policy "Users see the steps of their workflow runs"
  on public.workflow_run_steps for select to authenticated
  using (exists (select from public.workflow_runs r where r.id = workflow_run_steps.workflow_run_id offset 0));

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

-- Pre: the chat exists and the caller may see it. Under the chat's row lock:
-- * A user message to an idle, error, waiting or pending chat enters the history (the insert's
--   trigger gives it the next seq and revision) and makes the chat pending (a pending chat keeps its
--   place in the claim order); to a waiting chat it first denies the approvals the agent asked for
--   (superseded). The chat's first user message titles a chat still called 'New chat'. To a running
--   or stopping chat it waits in chat_queued_messages ({queued: true, position}; PT429 queue_full
--   past 20) until the turn ends (private.end_turn, 04_run_control.sql); with interrupt, it goes to
--   the front of the queue and a running turn is asked to stop (stopping: the worker persists its
--   partial answer and ends the turn, and this message is answered next). A retry, queued or not,
--   returns what is stored with created = false.
-- * An assistant message is inserted once, then replaced in place once per agent step (same seq, a
--   new revision; an unchanged rewrite is a retry and writes nothing); either way it moves
--   last_assistant_message_at, so the chat shows as unread while the agent works. One the backend
--   wrote is not the owner's to rewrite (PT403 written_by_agent).
-- * runner_id names the worker writing on behalf of its run: given, the chat must be held by it;
--   the backend's (service role's) assistant message into a held chat must name the holder. Else
--   PT409 not_held and nothing is written.
-- * A message id used by another chat or role, or by a message cut from the history, is PT409; a user
--   message of an account over its budget is PT402 budget_exceeded (private.check_budget,
--   05_usage_and_budgets.sql).
-- Returns {message, created}, the message as every read shows it (private.message_summary), or
-- {queued, position, message, created}.
create function public.append_message(
  chat_id text,
  message jsonb,
  runner_id text default null,
  interrupt boolean default false
) returns jsonb
language plpgsql
security invoker
set search_path = ''
set chat.transition = 'on' -- may move server-owned columns (08_hardening_and_grants.sql)
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
      -- User messages are written once, and an unchanged rewrite is a retry: the message as stored.
      return jsonb_build_object('message', private.message_summary(stored), 'created', false);
    end if;
    if stored.written_by = 'backend' and current_user = 'authenticated' then
      raise sqlstate 'PT403' using
        message = format('message %s was written by the agent: only the agent changes it (answer its tool approvals '
                         'with respond-to-approval)', message_id),
        detail = 'written_by_agent';
    end if;
    -- The agent persists its message once per step: replace it in place, keeping its seq.
    update public.chat_messages m set parts = message where m.id = message_id returning * into stored;
    update public.chats c set last_assistant_message_at = now() where c.id = append_message.chat_id;
    return jsonb_build_object('message', private.message_summary(stored), 'created', false);
  end if;
  if exists (select from public.chat_cut_messages c where c.id = message_id) then
    raise sqlstate 'PT409' using
      message = format('message id %s belongs to an earlier branch of a chat''s history: use a new id', message_id),
      detail = 'message_cut';
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
      if interrupt then
        update public.chat_queued_messages q set position = q.position + 1 where q.chat_id = append_message.chat_id;
      end if;
      insert into public.chat_queued_messages (id, chat_id, message, position)
      values (message_id, append_message.chat_id, message, case when interrupt then 1 else queue_length + 1 end)
      on conflict (id) do nothing
      returning * into queued;
      if not found then
        raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
      end if;
      -- The queue is part of what a follower sees; an interrupt stops the turn as stop_chat does.
      update public.chats c
         set revision = c.revision + 1,
             status = case when interrupt then 'stopping' else c.status end,
             status_changed_at = case when interrupt and c.status = 'running' then now() else c.status_changed_at end
       where c.id = append_message.chat_id;
      return jsonb_build_object('queued', true, 'position', queued.position, 'message', to_jsonb(queued), 'created', true);
    end if;

    if chat.status = 'waiting' then
      perform private.deny_open_approvals(chat, 'superseded');
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
    if chat.status in ('idle', 'error', 'waiting') then
      update public.chats c
         set status = 'pending', attempts = 0, last_error = null, status_changed_at = now()
       where c.id = append_message.chat_id;
    end if;
  end if;

  return jsonb_build_object('message', private.message_summary(stored), 'created', true);
end;
$$;
comment on function public.append_message(text, jsonb, text, boolean) is
  'Appends a UIMessage to a chat as its owner (or the service role). A user message is written once (a retry returns it '
  'with created false; an id another chat or role uses, or a cut message used, is PT409), is refused over the '
  'account''s budget (PT402 budget_exceeded), titles a chat still called New chat, denies the open approvals of a '
  'waiting chat (superseded), and makes an idle, error, waiting or pending chat pending; to a running or stopping chat '
  'it waits in the queue ({queued, position}; PT429 queue_full past 20), at its front with interrupt, which also '
  'stops the turn. An assistant message is replaced in place, keeping its seq (an unchanged rewrite writes nothing), '
  'and sets last_assistant_message_at; one the backend wrote is not the owner''s to rewrite (PT403 written_by_agent); '
  'the backend''s into a chat a runner holds must name that runner. runner_id, when given, must hold the chat (PT409 '
  'not_held). Returns {message, created}, the message as reads show it, or {queued, position, message, created}.';

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
set chat.transition = 'on' -- may move server-owned columns (08_hardening_and_grants.sql)
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
-- Who may call what
-- ============================================================================
-- Nothing here is for anon.
revoke execute on function private.assign_message_seq(), private.keep_message_position()
  from public, anon, authenticated;
revoke execute on function private.take_session_account() from public;
revoke execute on function private.title_from_message(jsonb) from public;
grant execute on function private.title_from_message(jsonb) to authenticated, service_role;
revoke execute on function
  public.create_chat(text, text, text, text),
  public.create_session_with_chat(jsonb, jsonb, uuid),
  public.append_message(text, jsonb, text, boolean),
  public.mark_read(text, timestamptz, uuid)
  from public, anon;
