-- Conversation control: edit a user message and regenerate an answer (the history after it is cut,
-- and kept as an earlier branch), tool approval (a `waiting` chat), interrupting the agent, and the
-- queue managed by its owner. Every transition is one SQL function under the chat's row lock, on the
-- run-control state machine (04_run_control.sql).

-- ============================================================================
-- Columns and constraints
-- ============================================================================
alter table public.chats add column history_version integer not null default 0;
alter table public.chats add constraint chats_history_version_chk check (history_version >= 0);
alter table public.chats drop constraint chats_status_chk;
alter table public.chats add constraint chats_status_chk
  check (status in ('idle', 'pending', 'running', 'stopping', 'waiting', 'error'));
comment on column public.chats.history_version is
  'How many times the visible history was cut (an edit or a regenerate): 0, 1, 2, ... The messages cut are kept in '
  'chat_cut_messages, readable as the earlier versions.';
comment on column public.chats.status is
  'Where the agent is with this chat: idle (nothing to do), pending (waiting for a worker), running (a worker holds '
  'it), stopping (the user asked to stop; the worker must end the turn), waiting (the agent asked for the user''s '
  'approval of a tool call) or error (the last turn failed, or a claim found the account over its budget: last_error '
  'says which).';

alter table public.chat_messages add column history_version integer not null default 0;
alter table public.chat_messages add column written_by text not null default 'owner';
alter table public.chat_messages add constraint chat_messages_written_by_chk check (written_by in ('owner', 'backend'));
-- Assistant messages so far were the workers': from now on only the backend changes them. New rows
-- are the backend's unless an API role writes them (private.assign_message_seq).
update public.chat_messages set written_by = 'backend' where role = 'assistant';
alter table public.chat_messages alter column written_by set default 'backend';
comment on column public.chat_messages.history_version is
  'The history version in which this message (as it now reads) entered the visible history.';
comment on column public.chat_messages.written_by is
  'Who wrote the message: owner (the chat''s owner, through the API) or backend (the service role: the agent''s '
  'worker, or the app''s server). An assistant message the backend wrote changes only by the backend, or by the '
  'owner''s answer to a tool approval it asks for (respond_to_approval).';

-- Moving queued messages (promote, interrupt, delete) renumbers them in one statement: uniqueness is
-- checked at its end, not row by row.
alter table public.chat_queued_messages drop constraint chat_queued_messages_chat_id_position_key;
alter table public.chat_queued_messages add constraint chat_queued_messages_chat_id_position_key
  unique (chat_id, position) deferrable initially immediate;
comment on constraint chat_queued_messages_chat_id_position_key on public.chat_queued_messages is
  'One message per place in the queue (checked at the end of each statement, so a renumbering is one statement); '
  'also the index for the chat_id foreign key.';

-- The message a live stream continues: an assistant message that asked for approval goes on in a new
-- turn, under the same id, from what it was.
alter table public.chat_streams add column continues jsonb;
comment on column public.chat_streams.continues is
  'The stored message this stream continues (the chunks add to it), as it was when the stream opened; NULL for a '
  'new message.';

-- ============================================================================
-- Earlier branches: cuts and the messages they removed
-- ============================================================================
create table public.chat_history_cuts (
  chat_id text not null references public.chats (id) on delete cascade,
  history_version integer not null,
  from_seq bigint not null,
  reason text not null,
  revision bigint not null,
  created_at timestamptz not null default now(),
  constraint chat_history_cuts_pkey primary key (chat_id, history_version),
  constraint chat_history_cuts_history_version_chk check (history_version >= 1),
  constraint chat_history_cuts_from_seq_chk check (from_seq >= 1),
  constraint chat_history_cuts_reason_chk check (reason in ('edit', 'regenerate'))
);
comment on table public.chat_history_cuts is
  'Each cut of a chat''s visible history: the version it began, the first seq it changed, why (edit, regenerate) and '
  'the chat revision it took (followers get it as a reset event in that place).';

create table public.chat_cut_messages (
  id text not null,
  chat_id text not null references public.chats (id) on delete cascade,
  role text not null,
  parts jsonb not null,
  seq bigint not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  revision bigint not null,
  history_version integer not null,
  written_by text not null,
  cut_in integer not null,
  constraint chat_cut_messages_pkey primary key (id, cut_in)
);
comment on table public.chat_cut_messages is
  'Messages cut from a chat''s visible history, as they were (the columns of chat_messages), with the version whose '
  'cut removed them: version N of the history is the visible messages that entered at or before N plus the cut ones '
  'that entered at or before N and were cut after it. Deleted with the chat.';
comment on column public.chat_cut_messages.cut_in is 'The history version whose cut removed the message.';
create index chat_cut_messages_chat_id_cut_in_idx on public.chat_cut_messages (chat_id, cut_in, seq);
-- Kept as they were: nothing updates them, but updated_at has its trigger on every table.
create trigger chat_cut_messages_set_updated_at before update on public.chat_cut_messages
  for each row execute function private.set_updated_at();

alter table public.chat_history_cuts enable row level security;
alter table public.chat_cut_messages enable row level security;
create policy "Users see the cuts of their chats' histories" on public.chat_history_cuts for select to authenticated
  using (chat_id in (select private.owned_chat_ids()));
create policy "Users see the earlier branches of their chats" on public.chat_cut_messages for select to authenticated
  using (chat_id in (select private.owned_chat_ids()));
-- Written only by private.cut_history (as their owner): the API roles read, under the policies above.
revoke insert, update, delete on public.chat_history_cuts, public.chat_cut_messages from anon, authenticated;

-- ============================================================================
-- Who wrote a message, and the agent's messages kept as the agent wrote them
-- ============================================================================
create or replace function private.assign_message_seq() returns trigger
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

-- A changed message takes the chat's next revision. An assistant message the backend wrote stays the
-- backend's: an API role may change it only inside an operation (chat.transition = on), and the only
-- operation that does is the answer to a tool approval, which touches nothing but the approval.
create or replace function private.assign_message_revision() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.parts is distinct from old.parts or new.role is distinct from old.role then
    if old.written_by = 'backend' and old.role = 'assistant' and current_user in ('authenticated', 'anon')
       and current_setting('chat.transition', true) is distinct from 'on' then
      raise sqlstate '42501' using
        message = format('message %s was written by the agent: only the agent changes it', old.id);
    end if;
    update public.chats set revision = revision + 1 where id = new.chat_id
    returning revision into new.revision;
    if current_user not in ('authenticated', 'anon') then
      new.written_by := 'backend';
    end if;
  else
    new.revision := old.revision;
  end if;
  return new;
end;
$$;
comment on function private.assign_message_revision() is
  'BEFORE UPDATE on chat_messages: a changed message takes the chat''s next revision, under the chat''s row lock; an '
  'assistant message the backend wrote is refused to an API role outside the operations.';

drop trigger chat_messages_0_server_owned on public.chat_messages;
create trigger chat_messages_0_server_owned before update on public.chat_messages
  for each row execute function private.refuse_server_owned_changes(
    'id', 'chat_id', 'role', 'seq', 'created_at', 'updated_at', 'revision', 'history_version', 'written_by'
  );
drop trigger chats_0_server_owned on public.chats;
create trigger chats_0_server_owned before update on public.chats
  for each row execute function private.refuse_server_owned_changes(
    'id', 'session_id', 'active_stream_id', 'last_assistant_message_at', 'last_message_seq', 'created_at',
    'updated_at', 'revision', 'revision_txid', 'status', 'last_error', 'runner_id', 'heartbeat_at', 'attempts',
    'status_changed_at', 'archived_at', 'history_version'
  );

-- A stream that continues a stored message records it as it was.
create function private.remember_continued_message() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  select m.parts into new.continues from public.chat_messages m where m.id = new.message_id;
  return new;
end;
$$;
comment on function private.remember_continued_message() is
  'BEFORE INSERT on chat_streams: records the stored message a stream continues (NULL for a new message).';
create trigger chat_streams_remember_continued before insert on public.chat_streams
  for each row execute function private.remember_continued_message();

-- ============================================================================
-- The summaries: the history version, who wrote a message
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
    'history_version', chat.history_version,
    'last_message_seq', chat.last_message_seq,
    'last_assistant_message_at', chat.last_assistant_message_at,
    'last_read_at', marker.last_read_at,
    'has_unread', private.is_unread(chat.last_assistant_message_at, marker.last_read_at),
    'usage', used.totals,
    'archived_at', chat.archived_at,
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
  left join lateral (
    select to_jsonb(u) - array['chat_id', 'account_id', 'created_at'] as totals
      from public.chat_usage u
     where u.chat_id = chat.id
  ) used on true
$$;
comment on function private.chat_summary(public.chats) is
  'The chat as the read API returns it: its visible state, run state, revision, history version, the owner''s read '
  'marker, has_unread, usage (the chat''s totals, NULL before its first recorded step) and archived_at (NULL unless '
  'archived).';

create or replace function private.message_summary(m public.chat_messages) returns jsonb
language sql immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', m.id, 'role', m.role, 'seq', m.seq, 'revision', m.revision, 'written_by', m.written_by,
    'created_at', m.created_at, 'updated_at', m.updated_at, 'message', m.parts
  )
$$;
comment on function private.message_summary(public.chat_messages) is
  'A message as the read API returns it: {id, role, seq, revision, written_by, created_at, updated_at, message}.';

-- The queue as reads show it: in order, each with its position.
create function private.queue_of(chat_id text) returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(to_jsonb(q) order by q.position), '[]')
    from public.chat_queued_messages q where q.chat_id = queue_of.chat_id
$$;
comment on function private.queue_of(text) is 'The chat''s queued messages, in queue order (rows of chat_queued_messages).';

-- ============================================================================
-- Tool approvals in an assistant message
-- ============================================================================
-- The AI SDK's tool approval: a tool part in state approval-requested with approval {id}. Answered,
-- it is approval-responded with approval {id, approved, reason}; a denial the agent never saw (the
-- user moved on, stopped, or did not answer in time) is recorded as output-denied, the state the SDK
-- gives a denied call, so that no tool call is left without a result.
create function private.has_open_approvals(message jsonb) returns boolean
language sql immutable
set search_path = ''
as $$
  select coalesce(jsonb_path_exists(message, '$.parts[*] ? (@.state == "approval-requested")'), false)
$$;
comment on function private.has_open_approvals(jsonb) is
  'True when a UIMessage has a tool part waiting for approval (state approval-requested).';

-- Pre: the caller holds the chat's row lock. Post: the open approvals of the chat's last message are
-- denied with reason, without running anything.
create function private.deny_open_approvals(chat public.chats, reason text) returns void
language plpgsql
set search_path = ''
as $$
begin
  update public.chat_messages m
     set parts = jsonb_set(m.parts, '{parts}', (
       select jsonb_agg(
                case when p ->> 'state' = 'approval-requested' then
                  p || jsonb_build_object('state', 'output-denied', 'approval',
                         jsonb_build_object('id', p -> 'approval' -> 'id', 'approved', false, 'reason', reason))
                else p end
                order by n)
         from jsonb_array_elements(m.parts -> 'parts') with ordinality e(p, n)
     ))
   where m.chat_id = chat.id and m.seq = chat.last_message_seq and private.has_open_approvals(m.parts);
end;
$$;
comment on function private.deny_open_approvals(public.chats, text) is
  'Denies (state output-denied, approved false, with reason) the tool calls waiting for approval in the chat''s last '
  'message; the caller holds the chat''s row lock.';

-- ============================================================================
-- end_turn: a turn that asked for approval leaves the chat waiting
-- ============================================================================
create or replace function private.end_turn(chat_id text, outcome text) returns public.chats
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
-- Cutting the history (edit, regenerate)
-- ============================================================================
-- Pre: the caller holds the chat's row lock (taken as itself, under its policies). Post: a turn in
-- flight is ended aborted (its run finished, its streams closed, its lease cleared: the worker's late
-- writes are not_held); the queue is emptied (returned); the messages from from_seq on are moved to
-- chat_cut_messages; the chat is pending in history version + 1, its next message taking seq
-- from_seq; the cut is recorded at the revision the chat took. Returns {history_version, from_seq,
-- dropped_queue}. It writes what the owner may only read (runs, streams, the earlier branches), so it
-- runs as their owner, and checks first that the chat is the caller's (or the caller the service role).
create function private.cut_history(chat_id text, from_seq bigint, reason text) returns jsonb
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
  if coalesce(auth.role(), '') <> 'service_role'
     and cut_history.chat_id not in (select private.owned_chat_ids()) then
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
comment on function private.cut_history(text, bigint, text) is
  'Cuts a chat''s visible history from from_seq on (caller holds the chat''s row lock): ends a turn in flight as '
  'aborted, empties the queue, keeps the cut messages in chat_cut_messages and makes the chat pending in its next '
  'history version. Returns {history_version, from_seq, dropped_queue}.';

-- ============================================================================
-- edit_message: the owner rewrites a user message; the agent answers it again
-- ============================================================================
-- Pre: message is a user UIMessage whose id names a user message in the chat's visible history.
-- Post: that message reads as `message` (same id and seq) in the next history version, every later
-- message is cut (kept as the earlier branch, with the message's old version), the queue is dropped
-- and returned, a turn in flight ended aborted, and the chat is pending. An edit that changes nothing
-- cuts nothing (a retry): {edited: false}. Returns {chat, message, edited, cut, dropped_queue}.
create function public.edit_message(chat_id text, message jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
set chat.transition = 'on' -- may move server-owned columns (08_hardening_and_grants.sql)
as $$
#variable_conflict use_column
declare
  chat public.chats;
  stored public.chat_messages;
  cut jsonb;
begin
  select * into chat from public.chats c where c.id = edit_message.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', edit_message.chat_id);
  end if;
  select * into stored from public.chat_messages m where m.id = message ->> 'id' and m.chat_id = chat.id;
  if not found then
    if exists (select from public.chat_cut_messages c where c.id = message ->> 'id' and c.chat_id = chat.id) then
      raise sqlstate 'PT409' using message = format('message %s was cut from the history: edit a message it shows',
        message ->> 'id'), detail = 'message_cut';
    end if;
    raise sqlstate 'PT404' using message = format('message %s not found in chat %s', message ->> 'id', chat.id),
      detail = 'message_not_found';
  end if;
  if stored.role <> 'user' or message ->> 'role' is distinct from 'user' then
    raise sqlstate 'PT400' using message = format('message %s is not a user message: only those are edited (regenerate '
      'an answer instead)', stored.id), detail = 'not_a_user_message';
  end if;
  if stored.parts = message then
    return jsonb_build_object('chat', private.chat_summary(chat), 'message', private.message_summary(stored),
                              'edited', false, 'cut', null, 'dropped_queue', '[]'::jsonb);
  end if;

  -- The old version of the message is kept with the branch it led.
  cut := private.cut_history(chat.id, stored.seq, 'edit');
  insert into public.chat_messages (id, chat_id, role, parts)
  values (stored.id, chat.id, 'user', message)
  returning * into stored;
  select * into chat from public.chats c where c.id = edit_message.chat_id;
  return jsonb_build_object('chat', private.chat_summary(chat), 'message', private.message_summary(stored),
                            'edited', true, 'cut', cut - 'dropped_queue', 'dropped_queue', cut -> 'dropped_queue');
end;
$$;
comment on function public.edit_message(text, jsonb) is
  'The chat''s owner (or the service role) rewrites a user message (same id and seq): every later message is cut '
  '(kept as the earlier branch), the queue dropped and returned, a turn in flight ended aborted, and the chat is '
  'pending so the agent answers the new version. An unchanged message is a no-op (edited false). Returns {chat, '
  'message, edited, cut: {history_version, from_seq}, dropped_queue}.';

-- ============================================================================
-- regenerate: a new answer to a user message
-- ============================================================================
-- message_id: the user message to answer again, or the assistant message to replace (the answer to
-- the user message before it), or NULL for the last user message. The answers after that user message
-- are cut, a turn in flight is ended, the queue dropped, the chat pending. Regenerating an assistant
-- message that is already cut is a retry: {regenerated: false}. Returns {chat, regenerated, cut,
-- dropped_queue}.
create function public.regenerate(chat_id text, message_id text default null) returns jsonb
language plpgsql
security invoker
set search_path = ''
set chat.transition = 'on' -- may move server-owned columns (08_hardening_and_grants.sql)
as $$
#variable_conflict use_column
declare
  chat public.chats;
  target public.chat_messages;
  question public.chat_messages;
  cut jsonb;
begin
  select * into chat from public.chats c where c.id = regenerate.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', regenerate.chat_id);
  end if;

  if message_id is not null then
    select * into target from public.chat_messages m where m.id = regenerate.message_id and m.chat_id = chat.id;
    if not found then
      if exists (select from public.chat_cut_messages c
                  where c.id = regenerate.message_id and c.chat_id = chat.id and c.role = 'assistant') then
        -- Already replaced: a retry of this call.
        return jsonb_build_object('chat', private.chat_summary(chat), 'regenerated', false, 'cut', null,
                                  'dropped_queue', '[]'::jsonb);
      end if;
      raise sqlstate 'PT404' using message = format('message %s not found in chat %s', regenerate.message_id, chat.id);
    end if;
  end if;
  select * into question from public.chat_messages m
   where m.chat_id = chat.id and m.role = 'user' and m.seq <= coalesce(target.seq, chat.last_message_seq)
   order by m.seq desc limit 1;
  if not found then
    raise sqlstate 'PT400' using message = 'there is no user message to answer again', detail = 'nothing_to_regenerate';
  end if;

  cut := private.cut_history(chat.id, question.seq + 1, 'regenerate');
  select * into chat from public.chats c where c.id = regenerate.chat_id;
  return jsonb_build_object('chat', private.chat_summary(chat), 'regenerated', true, 'cut', cut - 'dropped_queue',
                            'dropped_queue', cut -> 'dropped_queue');
end;
$$;
comment on function public.regenerate(text, text) is
  'The chat''s owner (or the service role) asks for a new answer to a user message (message_id: it, or the assistant '
  'message to replace; NULL: the last user message): the answers after it are cut (kept as the earlier branch), a '
  'turn in flight ended aborted, the queue dropped and returned, the chat pending. Returns {chat, regenerated, cut, '
  'dropped_queue}.';

-- ============================================================================
-- respond_to_approval: the owner approves or denies a tool call the agent asked about
-- ============================================================================
-- Pre: the chat is waiting and its message message_id has a tool part asking approval approval_id.
-- Post: that part is approval-responded with approval {id, approved, reason}; nothing else of the
-- message changes. When no approval is left open, the chat is pending and the agent goes on with the
-- same message. Answering again with the same answer is a retry (answered false); a different one is
-- PT409 already_answered. Returns {chat, message, answered}.
create function public.respond_to_approval(
  chat_id text,
  message_id text,
  approval_id text,
  approved boolean,
  reason text default null
) returns jsonb
language plpgsql
security invoker
set search_path = ''
set chat.transition = 'on' -- may change the agent's message, in its approval only
as $$
#variable_conflict use_column
declare
  chat public.chats;
  stored public.chat_messages;
  part jsonb;
  place int;
begin
  select * into chat from public.chats c where c.id = respond_to_approval.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', respond_to_approval.chat_id);
  end if;
  select * into stored from public.chat_messages m
   where m.id = respond_to_approval.message_id and m.chat_id = chat.id and m.role = 'assistant';
  if not found then
    raise sqlstate 'PT404' using message = format('assistant message %s not found in chat %s', message_id, chat.id);
  end if;
  select e.p, e.n - 1 into part, place
    from jsonb_array_elements(stored.parts -> 'parts') with ordinality e(p, n)
   where e.p -> 'approval' ->> 'id' = approval_id;
  if not found then
    raise sqlstate 'PT404' using message = format('message %s asks no approval %s', message_id, approval_id);
  end if;

  if part ->> 'state' is distinct from 'approval-requested' then
    if (part -> 'approval' -> 'approved') = to_jsonb(approved) then
      return jsonb_build_object('chat', private.chat_summary(chat), 'message', private.message_summary(stored),
                                'answered', false);
    end if;
    raise sqlstate 'PT409' using message = format('approval %s was already answered (%s)', approval_id,
      coalesce(part -> 'approval' ->> 'reason', case when (part -> 'approval' ->> 'approved')::boolean then 'approved'
                                                  else 'denied' end)),
      detail = 'already_answered';
  end if;
  if chat.status <> 'waiting' then
    raise sqlstate 'PT409' using message = format('chat %s is %s, not waiting for an approval', chat.id, chat.status),
      detail = 'not_waiting';
  end if;

  update public.chat_messages m
     set parts = jsonb_set(m.parts, array['parts', place::text],
                           part || jsonb_build_object('state', 'approval-responded', 'approval',
                             jsonb_strip_nulls(jsonb_build_object('id', approval_id, 'approved', approved,
                                                                  'reason', reason))))
   where m.id = stored.id
  returning * into stored;
  if not private.has_open_approvals(stored.parts) then
    update public.chats c
       set status = 'pending', attempts = 0, last_error = null, status_changed_at = now()
     where c.id = chat.id
    returning * into chat;
  else
    select * into chat from public.chats c where c.id = chat.id;
  end if;
  return jsonb_build_object('chat', private.chat_summary(chat), 'message', private.message_summary(stored),
                            'answered', true);
end;
$$;
comment on function public.respond_to_approval(text, text, text, boolean, text) is
  'The chat''s owner (or the service role) approves or denies a tool call waiting for approval: the part becomes '
  'approval-responded with approval {id, approved, reason}; once none is open the chat is pending and the agent '
  'continues the same message. The same answer again is a no-op; another is PT409 already_answered; a chat not '
  'waiting is PT409 not_waiting. Returns {chat, message, answered}.';

-- ============================================================================
-- answer_approvals: useChat's approval re-post (addToolApprovalResponse)
-- ============================================================================
-- The AI SDK's client answers an approval by changing the tool part in its copy of the assistant
-- message (state approval-responded, approval {id, approved, reason}) and posting the message back.
-- Pre: message is the stored assistant message with only that changed: the same id and parts, every
-- part equal but for the state and approval of parts that asked for approval; else PT400
-- only_approvals and nothing is recorded. Post: each newly answered approval is recorded by
-- respond_to_approval (an answer already recorded is a retry). Returns {chat, message, answered:
-- how many this call recorded}.
create function public.answer_approvals(chat_id text, message jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
set chat.transition = 'on' -- through respond_to_approval, the approval only
as $$
#variable_conflict use_column
declare
  chat public.chats;
  stored public.chat_messages;
  posted_part jsonb;
  stored_part jsonb;
  answered int := 0;
  result jsonb;
begin
  select * into chat from public.chats c where c.id = answer_approvals.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', answer_approvals.chat_id);
  end if;
  select * into stored from public.chat_messages m
   where m.id = message ->> 'id' and m.chat_id = chat.id and m.role = 'assistant';
  if not found then
    raise sqlstate 'PT404' using message = format('assistant message %s not found in chat %s', message ->> 'id', chat.id);
  end if;
  if (message - 'parts') is distinct from (stored.parts - 'parts')
     or jsonb_array_length(message -> 'parts') <> jsonb_array_length(stored.parts -> 'parts') then
    raise sqlstate 'PT400' using message = 'only the approval of tool calls may change in a message the agent wrote',
      detail = 'only_approvals';
  end if;

  for posted_part, stored_part in
    select p.part, s.part
      from jsonb_array_elements(message -> 'parts') with ordinality p(part, n)
      join jsonb_array_elements(stored.parts -> 'parts') with ordinality s(part, n) using (n)
  loop
    continue when posted_part = stored_part;
    if (posted_part - 'state' - 'approval') is distinct from (stored_part - 'state' - 'approval')
       or stored_part ->> 'state' is distinct from 'approval-requested'
       or posted_part ->> 'state' is distinct from 'approval-responded'
       or posted_part -> 'approval' ->> 'id' is distinct from stored_part -> 'approval' ->> 'id'
       or jsonb_typeof(posted_part -> 'approval' -> 'approved') is distinct from 'boolean'
       or jsonb_typeof(coalesce(posted_part -> 'approval' -> 'reason', '""')) <> 'string'
       or (posted_part -> 'approval') - array['id', 'approved', 'reason'] <> '{}' then
      raise sqlstate 'PT400' using message = 'only the approval of tool calls may change in a message the agent wrote',
        detail = 'only_approvals';
    end if;
    result := public.respond_to_approval(chat.id, stored.id, posted_part -> 'approval' ->> 'id',
                                         (posted_part -> 'approval' ->> 'approved')::boolean,
                                         posted_part -> 'approval' ->> 'reason');
    answered := answered + 1;
  end loop;

  if answered = 0 then
    return jsonb_build_object('chat', private.chat_summary(chat), 'message', private.message_summary(stored),
                              'answered', 0);
  end if;
  return jsonb_build_object('chat', result -> 'chat', 'message', result -> 'message', 'answered', answered);
end;
$$;
comment on function public.answer_approvals(text, jsonb) is
  'The chat''s owner posts back the agent''s message with tool approvals answered (the AI SDK''s '
  'addToolApprovalResponse): each answered approval is recorded as by respond_to_approval; any other difference from '
  'the stored message is PT400 only_approvals. Returns {chat, message, answered}.';

-- ============================================================================
-- The queue, managed by its owner
-- ============================================================================
create function public.delete_queued_message(chat_id text, message_id text) returns jsonb
language plpgsql
security invoker
set search_path = ''
set chat.transition = 'on' -- may move server-owned columns (08_hardening_and_grants.sql)
as $$
#variable_conflict use_column
declare
  chat public.chats;
  gone public.chat_queued_messages;
begin
  select * into chat from public.chats c where c.id = delete_queued_message.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', delete_queued_message.chat_id);
  end if;
  delete from public.chat_queued_messages q
   where q.id = delete_queued_message.message_id and q.chat_id = chat.id
  returning * into gone;
  if not found then
    raise sqlstate 'PT404' using message = format('no queued message %s in chat %s', message_id, chat.id);
  end if;
  update public.chat_queued_messages q set position = q.position - 1
   where q.chat_id = chat.id and q.position > gone.position;
  -- The queue is part of what a follower sees.
  update public.chats c set revision = c.revision + 1 where c.id = chat.id returning * into chat;
  return jsonb_build_object('chat', private.chat_summary(chat), 'deleted', to_jsonb(gone),
                            'queued', private.queue_of(chat.id));
end;
$$;
comment on function public.delete_queued_message(text, text) is
  'The chat''s owner removes a message from the queue (the ones after it move up). Returns {chat, deleted, queued}.';

create function public.promote_queued_message(chat_id text, message_id text) returns jsonb
language plpgsql
security invoker
set search_path = ''
set chat.transition = 'on' -- may move server-owned columns (08_hardening_and_grants.sql)
as $$
#variable_conflict use_column
declare
  chat public.chats;
  moved public.chat_queued_messages;
begin
  select * into chat from public.chats c where c.id = promote_queued_message.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', promote_queued_message.chat_id);
  end if;
  select * into moved from public.chat_queued_messages q
   where q.id = promote_queued_message.message_id and q.chat_id = chat.id;
  if not found then
    raise sqlstate 'PT404' using message = format('no queued message %s in chat %s', message_id, chat.id);
  end if;
  update public.chat_queued_messages q
     set position = case when q.id = moved.id then 1 else q.position + 1 end
   where q.chat_id = chat.id and q.position <= moved.position;
  update public.chats c set revision = c.revision + 1 where c.id = chat.id returning * into chat;
  return jsonb_build_object('chat', private.chat_summary(chat), 'queued', private.queue_of(chat.id));
end;
$$;
comment on function public.promote_queued_message(text, text) is
  'The chat''s owner moves a queued message to the front of the queue: it is answered next. Returns {chat, queued}.';

-- ============================================================================
-- append_message: ids of cut messages stay taken, the agent's messages stay the agent's, a waiting
-- chat's approvals are superseded, and a message may interrupt the agent
-- ============================================================================
drop function public.append_message(text, jsonb, text);
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
-- stop_chat: a waiting chat's approvals are denied
-- ============================================================================
create or replace function public.stop_chat(chat_id text) returns jsonb
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
-- recover_stale_chats and claim_chats: unanswered approvals time out
-- ============================================================================
drop function public.claim_chats(text, int, text[], interval, interval, text[]);
drop function public.recover_stale_chats(interval, interval);

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

create index chats_waiting_idx on public.chats (status_changed_at) where status = 'waiting';

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
-- get_messages: the queue, and earlier versions of the history
-- ============================================================================
drop function public.get_messages(text, bigint, bigint, int);
create function public.get_messages(
  chat_id text,
  after_seq bigint default null,
  before_seq bigint default null,
  page_size int default 50,
  history_version int default null
) returns jsonb
language plpgsql stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  shown int;
  rows jsonb;
  more boolean;
  in_flight jsonb;
begin
  perform private.check_page_size(page_size);
  if after_seq is not null and before_seq is not null then
    raise sqlstate 'PT400' using message = 'send after_seq or before_seq, not both', detail = 'invalid_cursor';
  end if;
  select * into chat from public.chats c where c.id = get_messages.chat_id;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', get_messages.chat_id);
  end if;
  shown := coalesce(get_messages.history_version, chat.history_version);
  if shown not between 0 and chat.history_version then
    raise sqlstate 'PT400' using
      message = format('history_version must be between 0 and the chat''s %s, not %s', chat.history_version, shown),
      detail = 'invalid_history_version';
  end if;

  -- Forward from after_seq; otherwise backward from before_seq or from the newest message. n ranks
  -- the rows in the page's direction, so the one row fetched beyond the page is the one dropped.
  -- The visible history is chat_messages alone (its (chat_id, seq) index); an earlier version adds
  -- the messages cut after it.
  with versioned as (
    select m from public.chat_messages m
     where m.chat_id = get_messages.chat_id and shown < chat.history_version and m.history_version <= shown
    union all
    select row(c.id, c.chat_id, c.role, c.parts, c.seq, c.created_at, c.updated_at, c.revision, c.history_version,
               c.written_by)::public.chat_messages
      from public.chat_cut_messages c
     where c.chat_id = get_messages.chat_id and shown < chat.history_version
       and c.history_version <= shown and c.cut_in > shown
  ), page as (
    select m as message, row_number() over (order by m.seq) as n
      from public.chat_messages m
     where m.chat_id = get_messages.chat_id and shown = chat.history_version
       and after_seq is not null and m.seq > after_seq
     order by m.seq limit page_size + 1
  ), back as (
    select m as message, row_number() over (order by m.seq desc) as n
      from public.chat_messages m
     where m.chat_id = get_messages.chat_id and shown = chat.history_version and after_seq is null
       and m.seq < coalesce(before_seq, chat.last_message_seq + 1)
     order by m.seq desc limit page_size + 1
  ), earlier as (
    select v.m as message,
           row_number() over (order by case when after_seq is null then -(v.m).seq else (v.m).seq end) as n
      from versioned v
     where (after_seq is null or (v.m).seq > after_seq) and (before_seq is null or (v.m).seq < before_seq)
  ), fetched as (
    select * from page union all select * from back union all select * from earlier where n <= page_size + 1
  )
  select coalesce(jsonb_agg(private.message_summary(f.message) order by (f.message).seq)
                    filter (where f.n <= page_size), '[]'),
         count(*) > page_size
    into rows, more
    from fetched f;

  -- The reply in flight (its run holds the chat): a client that resumes its stream from the start shows
  -- it from what it continues (null: nothing), not from the version stored after its last step.
  select jsonb_build_object('message_id', s.message_id, 'continues', s.continues) into in_flight
    from public.chat_streams s
   where s.chat_id = chat.id and s.run_id = chat.active_stream_id
   order by s.opened_revision desc limit 1;

  return jsonb_build_object('chat', private.chat_summary(chat), 'messages', rows, 'has_more', more,
                            'history_version', shown, 'queued', private.queue_of(chat.id), 'in_flight', in_flight);
end;
$$;
comment on function public.get_messages(text, bigint, bigint, int, int) is
  'A page of a chat''s messages, ascending by seq: the newest page_size (no cursor), the page after after_seq, or the '
  'page before before_seq (both exclusive), of the visible history or of an earlier history_version (0 up to the '
  'chat''s). has_more: more exist beyond the page in its direction (older for no cursor and before_seq, newer for '
  'after_seq), the queue, and the reply in flight with the message it continues. Returns {chat, messages, has_more, '
  'history_version, queued, in_flight: {message_id, continues} | null}.';

-- ============================================================================
-- chat_changes: resets and the queue
-- ============================================================================
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
  resets jsonb;
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

  -- The cuts after the revision, up to the last message returned when more are to come: each is a
  -- reset a follower applies in its place among the messages.
  select coalesce(jsonb_agg(jsonb_build_object('history_version', h.history_version, 'from_seq', h.from_seq,
                                               'revision', h.revision) order by h.revision), '[]')
    into resets
    from public.chat_history_cuts h
   where h.chat_id = chat.id and after_revision is not null and h.revision > after_revision
     and (not more or h.revision <= (rows -> -1 ->> 'revision')::bigint);

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
           'in_flight', s.run_id is not distinct from chat.active_stream_id,
           'continues', s.continues) order by s.opened_revision), '[]')
    into streams
    from public.chat_streams s
   where s.chat_id = chat.id and s.opened_revision >= from_stream;

  -- With more messages to come, the caller asks again after the last one returned (its revision).
  return jsonb_build_object(
    'chat', private.chat_summary(chat),
    'account_id', (select s.account_id from public.sessions s where s.id = chat.session_id),
    'messages', rows,
    'has_more', more,
    'resets', resets,
    'queued', private.queue_of(chat.id),
    'position', jsonb_build_array(from_stream, from_chunk),
    'streams', streams,
    'chunks', batches,
    'chunks_more', batches_more
  );
end;
$$;
comment on function public.chat_changes(text, bigint, int, bigint, int, int) is
  'Every message of a chat changed after after_revision, at its latest state, in revision order (at most page_size; '
  'has_more says to ask again after the last one), the cuts of its history after after_revision (resets), its queue, '
  'the chat itself and its owner''s account_id, and the chunks of its live streams after the stream position '
  '(after_stream, after_chunk), or without one the stream in flight from its start (at most chunk_limit; '
  'chunks_more), each stream with the stored message it continues. No after_revision: no messages and no resets. A '
  'cursor beyond the chat''s revision is PT400 cursor_ahead. Returns {chat, account_id, messages, has_more, resets, '
  'queued, position, streams, chunks, chunks_more}.';

-- ============================================================================
-- Who may call what
-- ============================================================================
revoke execute on function
  public.edit_message(text, jsonb),
  public.regenerate(text, text),
  public.respond_to_approval(text, text, text, boolean, text),
  public.answer_approvals(text, jsonb),
  public.delete_queued_message(text, text),
  public.promote_queued_message(text, text),
  public.append_message(text, jsonb, text, boolean),
  public.get_messages(text, bigint, bigint, int, int)
  from public, anon;
revoke execute on function public.recover_stale_chats(interval, interval, interval) from public, anon, authenticated;
revoke execute on function
  public.claim_chats(text, int, text[], interval, interval, text[], interval)
  from public, anon, authenticated;
revoke execute on function
  private.remember_continued_message(), private.queue_of(text), private.has_open_approvals(jsonb),
  private.deny_open_approvals(public.chats, text), private.cut_history(text, bigint, text)
  from public;
grant execute on function
  private.queue_of(text), private.has_open_approvals(jsonb), private.deny_open_approvals(public.chats, text),
  private.cut_history(text, bigint, text)
  to authenticated, service_role;
