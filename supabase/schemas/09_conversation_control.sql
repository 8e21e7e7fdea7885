-- Conversation control: a conversation with an agent is not append-only. The owner edits a user
-- message or asks for another answer (the history after it is cut, and kept), answers the agent's
-- requests for approval of a tool call, interrupts the agent, and reorders or deletes queued messages.
-- Every transition is one function here, under the chat's row lock, on the run-control state machine
-- (04_run_control.sql); the waiting status and the approvals' ends are part of it there.
--
-- History versions. chats.history_version counts the cuts (0, 1, 2, ...). A cut (edit_message,
-- regenerate) moves the messages from a seq on into chat_cut_messages, unchanged, with the version
-- whose cut removed them, and records itself in chat_history_cuts with the chat revision it took. The
-- visible history stays chat_messages alone, gapless by seq (the next message takes the first cut
-- seq), so its reads keep their index; version N of the history is the visible messages that entered
-- at or before N plus the cut ones that entered at or before N and were cut after it
-- (get_messages(history_version)). Followers get each cut as a reset {history_version, from_seq} in
-- revision order (chat_changes' resets): drop what they hold from from_seq on, then the new messages
-- follow. A cut message's id stays taken (append_message: PT409 message_cut).
--
-- Approvals. A tool the agent may call only with the user's approval (the AI SDK's needsApproval)
-- ends the turn with the tool part in state approval-requested; the turn's end leaves the chat waiting
-- (private.end_turn). respond_to_approval answers one; when none is open the chat is pending and the
-- agent continues the same message (its new stream records the message it continues). A new user
-- message (superseded), stop_chat (stopped), a failed or stopped turn and the approval timeout
-- (recover_stale_chats: timed out) deny the open ones without running anything. The agent's messages
-- are the backend's to write (chat_messages.written_by): the approval answer is the one change an
-- owner makes to them.

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
  using (exists (select from public.chats c where c.id = chat_history_cuts.chat_id offset 0));
create policy "Users see the earlier branches of their chats" on public.chat_cut_messages for select to authenticated
  using (exists (select from public.chats c where c.id = chat_cut_messages.chat_id offset 0));
-- Written only by private.cut_history (as their owner): the API roles read, under the policies above.
revoke insert, update, delete on public.chat_history_cuts, public.chat_cut_messages from anon, authenticated;

-- ============================================================================
-- A stream that continues a stored message
-- ============================================================================
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
-- The queue as reads show it
-- ============================================================================
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
-- Who may call what
-- ============================================================================
revoke execute on function
  public.edit_message(text, jsonb),
  public.regenerate(text, text),
  public.respond_to_approval(text, text, text, boolean, text),
  public.answer_approvals(text, jsonb),
  public.delete_queued_message(text, text),
  public.promote_queued_message(text, text)
  from public, anon;
revoke execute on function
  private.remember_continued_message(), private.queue_of(text), private.has_open_approvals(jsonb),
  private.deny_open_approvals(public.chats, text), private.cut_history(text, bigint, text)
  from public;
grant execute on function
  private.queue_of(text), private.has_open_approvals(jsonb), private.deny_open_approvals(public.chats, text),
  private.cut_history(text, bigint, text)
  to authenticated, service_role;
