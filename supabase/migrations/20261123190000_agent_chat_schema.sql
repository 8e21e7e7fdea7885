-- The agent/chat schema: accounts own sessions (an agent run bound to a sandbox and a repo state),
-- sessions hold chats, chats hold messages, per-account read markers, and the durable workflow
-- runs (one per agent turn) with their timed steps.
--
-- Conventions, so the rest of this file reads without surprises:
-- * Text primary keys: ids are nanoids or client-generated strings (AI SDK message ids, workflow
--   run ids). Where the server may mint one, the default is a random uuid in text form.
-- * Statuses are text + CHECK, never enums: adding a status is a one-line forward migration.
-- * Every foreign key cascades on delete and every foreign-key column is indexed (PostgreSQL does
--   not index the referencing side, and "all children of X" is how every screen reads).
-- * updated_at is kept by one trigger function, private.set_updated_at().
-- * Row level security is enabled on every table here; the policies are in the next migration.

-- ============================================================================
-- Private helpers: a schema the Supabase API does not expose
-- ============================================================================
create schema if not exists private;
comment on schema private is
  'Helpers for triggers and policies. Not exposed through the Supabase API.';

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
  'BEFORE UPDATE trigger shared by every table with an updated_at column.';

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
create index sessions_account_id_idx on public.sessions (account_id);

comment on table public.sessions is
  'An agent run bound to a sandbox and a repository state. Owned by one account; holds its chats.';
comment on column public.sessions.status is
  'What the user sees: running, completed, failed or archived. Independent of the sandbox lifecycle.';
comment on column public.sessions.is_new_branch is
  'True when the agent created branch for this session rather than checking out an existing one.';
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
  constraint chats_id_chk check (char_length(id) between 1 and 255),
  constraint chats_last_message_seq_chk check (last_message_seq >= 0)
);
create index chats_session_id_idx on public.chats (session_id);

comment on table public.chats is
  'A conversation thread with the agent inside a session. Its account is the session''s account.';
comment on column public.chats.title is
  'Shown in the chat list. Starts as ''New chat''; the first user message replaces that default.';
comment on column public.chats.model_id is
  'The model the agent uses in this chat. No default on purpose: a default would silently record '
  'the wrong model for chats created without one.';
comment on column public.chats.active_stream_id is
  'The workflow run currently streaming into this chat: a lease, cleared when the run ends.';
comment on column public.chats.last_assistant_message_at is
  'When the agent last added a message; compared with chat_reads.last_read_at for the unread flag.';
comment on column public.chats.last_message_seq is
  'The seq given to this chat''s newest message. Each insert into chat_messages increments it, '
  'which takes this row''s lock: that lock is what orders seq by commit.';

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
  constraint chat_messages_id_chk check (char_length(id) between 1 and 255),
  constraint chat_messages_role_chk check (role in ('user', 'assistant')),
  constraint chat_messages_parts_chk check (
    jsonb_typeof(parts) = 'object'
    and parts ->> 'id' = id
    and parts ->> 'role' = role
    and jsonb_typeof(parts -> 'parts') = 'array'
  ),
  constraint chat_messages_seq_chk check (seq >= 1),
  constraint chat_messages_chat_id_seq_key unique (chat_id, seq)
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
comment on constraint chat_messages_chat_id_seq_key on public.chat_messages is
  'Also the index behind "messages of a chat in order" and "the page after seq N".';

-- Assigns seq from the chat's counter. The UPDATE takes the chat's row lock and holds it until
-- commit, so two appends to one chat commit in seq order, whatever path inserted them.
create function private.assign_message_seq() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.chats
     set last_message_seq = last_message_seq + 1
   where id = new.chat_id
  returning last_message_seq into new.seq;
  if new.seq is null then
    raise foreign_key_violation using
      message = format('chat %s does not exist', new.chat_id),
      constraint = 'chat_messages_chat_id_fkey';
  end if;
  return new;
end;
$$;
comment on function private.assign_message_seq() is
  'BEFORE INSERT on chat_messages: gives the message the next seq of its chat, under the chat''s row lock.';

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
  total_duration_ms integer,
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
  duration_ms integer not null,
  finish_reason text,
  raw_finish_reason text,
  created_at timestamptz not null default now(),
  constraint workflow_run_steps_id_chk check (char_length(id) between 1 and 255),
  constraint workflow_run_steps_step_number_chk check (step_number >= 1),
  constraint workflow_run_steps_finished_at_chk check (finished_at >= started_at),
  constraint workflow_run_steps_duration_ms_chk check (duration_ms >= 0),
  constraint workflow_run_steps_workflow_run_id_step_number_key unique (workflow_run_id, step_number)
);

comment on table public.workflow_run_steps is
  'Timings of each step (one model call and its tool calls) of a workflow run. Written once: '
  'a step is never updated, so the table has no updated_at.';
comment on column public.workflow_run_steps.duration_ms is
  'finished_at - started_at in milliseconds, computed by the server rather than trusted from clients.';
comment on column public.workflow_run_steps.finish_reason is
  'The AI SDK''s normalised finish reason (stop, tool-calls, length, ...).';
comment on column public.workflow_run_steps.raw_finish_reason is
  'The provider''s own finish reason, kept for debugging.';
comment on constraint workflow_run_steps_workflow_run_id_step_number_key on public.workflow_run_steps is
  'A step is recorded once per run; also the index for the workflow_run_id foreign key.';

-- ============================================================================
-- updated_at triggers and row level security, for every table
-- ============================================================================
create trigger accounts_set_updated_at before update on public.accounts
  for each row execute function private.set_updated_at();
create trigger sessions_set_updated_at before update on public.sessions
  for each row execute function private.set_updated_at();
create trigger chats_set_updated_at before update on public.chats
  for each row execute function private.set_updated_at();
create trigger chat_messages_set_updated_at before update on public.chat_messages
  for each row execute function private.set_updated_at();
create trigger chat_reads_set_updated_at before update on public.chat_reads
  for each row execute function private.set_updated_at();
create trigger workflow_runs_set_updated_at before update on public.workflow_runs
  for each row execute function private.set_updated_at();

alter table public.accounts enable row level security;
alter table public.sessions enable row level security;
alter table public.chats enable row level security;
alter table public.chat_messages enable row level security;
alter table public.chat_reads enable row level security;
alter table public.workflow_runs enable row level security;
alter table public.workflow_run_steps enable row level security;
