-- Reading and following a conversation: a per-chat change cursor (revision), the read operations
-- (session and chat lists with unread flags, message pages by seq) and the change feed that the
-- follow-chat stream is built on.
--
-- The cursor, in one paragraph: chats.revision counts the changes a follower must see. A message
-- inserted or rewritten takes the chat's next revision (under the chat's row lock, which appends
-- already take) and records it in chat_messages.revision; any other change of the chat's visible
-- state (title, model, streaming lease, last assistant message time, the owner's read marker)
-- takes the next revision too, unless its transaction already took one. So revisions increase in
-- commit order per chat, like seq, and a reader holding everything up to revision N that asks for
-- "revision > N" never misses a committed change. Every new revision is announced with
-- pg_notify('chat_changes', {chat_id, revision}) at commit: a hint for followers, never the data.

-- ============================================================================
-- The cursor columns
-- ============================================================================
alter table public.chats
  add column revision bigint not null default 0,
  add column revision_txid bigint,
  add constraint chats_revision_chk check (revision >= 0);
comment on column public.chats.revision is
  'Per-chat change counter: the revision of the chat''s latest change a follower must see. Clients '
  'resume following a chat from the last revision they saw (follow-chat''s Last-Event-ID).';
comment on column public.chats.revision_txid is
  'Bookkeeping for revision: the transaction that took the current revision, so further changes of '
  'the chat''s own state in that transaction share it. Not part of the API.';

-- Defaults to 0 only so inserts may omit it, like seq: a trigger always assigns it.
alter table public.chat_messages
  add column revision bigint not null default 0;
comment on column public.chat_messages.revision is
  'The chat revision of this message''s last change (its insert, or the latest rewrite of an assistant '
  'message). A follower asking for "revision > N" gets every message changed since N once, at its latest state.';

-- Backfill before the new triggers exist: existing messages get their seq as revision (seq is
-- already in commit order), and each chat the revision of its newest message. Timestamps must not
-- move, so the updated_at triggers are kept out of it.
drop trigger chats_set_updated_at on public.chats;
alter table public.chat_messages disable trigger chat_messages_set_updated_at;
update public.chat_messages set revision = seq;
update public.chats set revision = last_message_seq where last_message_seq > 0;
alter table public.chat_messages enable trigger chat_messages_set_updated_at;

create index chat_messages_chat_id_revision_idx on public.chat_messages (chat_id, revision);
-- The list orders: newest activity first, with id as the tie-breaker of the keyset cursor.
create index sessions_account_id_updated_at_idx on public.sessions (account_id, updated_at desc, id desc);
create index chats_session_id_updated_at_idx on public.chats (session_id, updated_at desc, id desc);

-- ============================================================================
-- Taking revisions
-- ============================================================================

-- The chat side of every change. Replaces chats_set_updated_at for this table, because a chat's
-- updated_at must not move for bookkeeping alone (a read marker moving, a lease heartbeat): lists
-- are ordered by it and must not reorder every time someone reads.
create function private.track_chat_change() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  -- Columns whose change is not activity: bookkeeping of the cursor and of worker leases.
  bookkeeping constant text[] := array['updated_at', 'revision', 'revision_txid', 'heartbeat_at'];
  state_changed boolean := (to_jsonb(new) - bookkeeping) is distinct from (to_jsonb(old) - bookkeeping);
  revision_asked boolean := new.revision is distinct from old.revision;
begin
  if revision_asked then
    -- A message changed (or the owner's read marker moved): always a revision of its own, so each
    -- message event of a follow stream has a distinct id.
    new.revision := old.revision + 1;
    new.revision_txid := txid_current();
  elsif state_changed and old.revision_txid is distinct from txid_current() then
    new.revision := old.revision + 1;
    new.revision_txid := txid_current();
  end if;
  if state_changed then
    new.updated_at := now();
  else
    new.updated_at := old.updated_at;
  end if;
  return new;
end;
$$;
comment on function private.track_chat_change() is
  'BEFORE UPDATE on chats: takes the next revision for a visible change (once per transaction, or once per '
  'message when a message trigger asks by setting revision) and moves updated_at only for real activity.';

create trigger chats_track_change before update on public.chats
  for each row execute function private.track_chat_change();

-- New activity in a chat is activity in its session: the session list is ordered by updated_at.
-- `updated_at < now()` skips sessions this transaction already touched.
create function private.touch_session() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.sessions s set updated_at = now() where s.id = new.session_id and s.updated_at < now();
  return null;
end;
$$;
comment on function private.touch_session() is
  'AFTER INSERT or activity UPDATE on chats: moves the session''s updated_at, so sessions list by latest activity.';

create trigger chats_touch_session after insert on public.chats
  for each row execute function private.touch_session();
create trigger chats_touch_session_on_activity after update on public.chats
  for each row when (new.updated_at is distinct from old.updated_at)
  execute function private.touch_session();

-- A new message takes the next seq and the next revision in one update of its chat.
create or replace function private.assign_message_seq() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.chats
     set last_message_seq = last_message_seq + 1,
         revision = revision + 1
   where id = new.chat_id
  returning last_message_seq, revision into new.seq, new.revision;
  if new.seq is null then
    raise foreign_key_violation using
      message = format('chat %s does not exist', new.chat_id),
      constraint = 'chat_messages_chat_id_fkey';
  end if;
  return new;
end;
$$;
comment on function private.assign_message_seq() is
  'BEFORE INSERT on chat_messages: gives the message the next seq and the next revision of its chat, under the '
  'chat''s row lock.';

-- A rewritten message (the agent persists its message once per step) takes the next revision.
create function private.assign_message_revision() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.parts is distinct from old.parts or new.role is distinct from old.role then
    update public.chats set revision = revision + 1 where id = new.chat_id
    returning revision into new.revision;
  else
    new.revision := old.revision;
  end if;
  return new;
end;
$$;
comment on function private.assign_message_revision() is
  'BEFORE UPDATE on chat_messages: a changed message takes the chat''s next revision, under the chat''s row lock.';

create trigger chat_messages_take_revision before update on public.chat_messages
  for each row execute function private.assign_message_revision();

-- The owner's read marker is part of what a follower sees (another tab clears its unread dot).
-- Only the owner can hold a marker on a chat (the chat_reads policy), so every change counts.
create function private.announce_read_marker() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.chats set revision = revision + 1 where id = new.chat_id;
  return null;
end;
$$;
comment on function private.announce_read_marker() is
  'AFTER INSERT or UPDATE on chat_reads: a moved read marker takes the chat''s next revision.';

create trigger chat_reads_announce after insert or update of last_read_at on public.chat_reads
  for each row execute function private.announce_read_marker();

-- The hint followers wait for. Delivered at commit, so never for a change that rolled back;
-- PostgreSQL folds identical payloads of one transaction into one notification.
create function private.notify_chat_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform pg_notify('chat_changes', json_build_object('chat_id', new.id, 'revision', new.revision)::text);
  return null;
end;
$$;
comment on function private.notify_chat_change() is
  'AFTER UPDATE on chats: pg_notify(''chat_changes'', {chat_id, revision}) for every new revision.';

create trigger chats_notify_change after update on public.chats
  for each row when (new.revision is distinct from old.revision)
  execute function private.notify_chat_change();

-- ============================================================================
-- append_message, again: a rewrite is assistant activity too
-- ============================================================================
-- Same contract as before, two changes: a rewritten assistant message moves
-- last_assistant_message_at (so the chat shows as unread while the agent works), and a rewrite
-- that changes nothing writes nothing (a retried step takes no revision).
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
begin
  -- The chat's row lock serialises appends to one chat: seq, revision, the title rule and the retry
  -- check all see a settled chat.
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

-- ============================================================================
-- Shapes the read operations return
-- ============================================================================

-- The unread rule, in one place: the agent wrote (inserted or rewrote a message) after the
-- reader's marker, or there is no marker and the agent has written.
create function private.is_unread(last_assistant_message_at timestamptz, last_read_at timestamptz) returns boolean
language sql immutable
set search_path = ''
as $$
  select last_assistant_message_at is not null
     and (last_read_at is null or last_assistant_message_at > last_read_at)
$$;
comment on function private.is_unread(timestamptz, timestamptz) is
  'True when assistant activity happened after the read marker (or there is activity and no marker).';

-- A chat as lists, pages and the follow stream show it. The read marker is the owner's: only the
-- owner can hold one, and the service role reads on the owner's behalf.
create function private.chat_summary(chat public.chats) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', chat.id,
    'session_id', chat.session_id,
    'title', chat.title,
    'model_id', chat.model_id,
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
comment on function private.chat_summary(public.chats) is
  'The chat as the read API returns it: its visible state, revision, the owner''s read marker and has_unread.';

-- A message as pages and the follow stream show it: the stored UIMessage under `message`.
create function private.message_summary(m public.chat_messages) returns jsonb
language sql immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', m.id, 'role', m.role, 'seq', m.seq, 'revision', m.revision,
    'created_at', m.created_at, 'updated_at', m.updated_at, 'message', m.parts
  )
$$;
comment on function private.message_summary(public.chat_messages) is
  'A message as the read API returns it: {id, role, seq, revision, created_at, updated_at, message}.';

-- Keyset cursors: (updated_at, id) of the last row of a page, as opaque URL-safe base64.
create function private.encode_cursor(at timestamptz, id text) returns text
language sql immutable
set search_path = ''
as $$
  select translate(encode(convert_to(jsonb_build_array(at, id)::text, 'UTF8'), 'base64'), E'+/=\n', '-_')
$$;

create function private.decode_cursor(cursor text, out at timestamptz, out id text)
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
  at := (decoded ->> 0)::timestamptz;
  id := decoded ->> 1;
  if jsonb_typeof(decoded) <> 'array' or at is null or id is null then
    raise sqlstate 'PT400';
  end if;
exception when others then
  raise sqlstate 'PT400' using message = 'cursor is not a cursor this API returned', detail = 'invalid_cursor';
end;
$$;
comment on function private.encode_cursor(timestamptz, text) is
  'The next_cursor of a list page: (updated_at, id) of its last row, URL-safe base64, opaque to clients.';
comment on function private.decode_cursor(text) is
  'Reads a cursor made by encode_cursor; anything else is PT400 invalid_cursor.';

create function private.check_page_size(page_size int) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if page_size is null or page_size not between 1 and 200 then
    raise sqlstate 'PT400' using message = format('limit must be between 1 and 200, not %s', page_size),
      detail = 'invalid_limit';
  end if;
end;
$$;

-- ============================================================================
-- list_sessions: the caller's sessions, newest activity first
-- ============================================================================
create function public.list_sessions(
  account_id uuid default null,
  page_size int default 50,
  page_cursor text default null
) returns jsonb
language plpgsql stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  owner uuid := private.acting_account(list_sessions.account_id);
  after record;
  rows jsonb;
  more boolean;
begin
  perform private.check_page_size(page_size);
  select * into after from private.decode_cursor(page_cursor);
  with page as (
    select s.*
      from public.sessions s
     where s.account_id = owner
       and (page_cursor is null or (s.updated_at, s.id) < (after.at, after.id))
     order by s.updated_at desc, s.id desc
     limit page_size + 1
  ), numbered as (
    select p, row_number() over (order by p.updated_at desc, p.id desc) as n from page p
  )
  select coalesce(jsonb_agg(
           to_jsonb(n.p) || jsonb_build_object(
             'chat_count', stats.chat_count,
             'has_unread', stats.has_unread,
             'has_streaming', stats.has_streaming
           ) order by n.n
         ) filter (where n.n <= page_size), '[]'),
         count(*) > page_size
    into rows, more
    from numbered n
    cross join lateral (
      select count(*)::int as chat_count,
             coalesce(bool_or(private.is_unread(c.last_assistant_message_at, r.last_read_at)), false) as has_unread,
             coalesce(bool_or(c.active_stream_id is not null), false) as has_streaming
        from public.chats c
        left join public.chat_reads r on r.chat_id = c.id and r.account_id = owner
       where c.session_id = (n.p).id
    ) stats;

  return jsonb_build_object(
    'sessions', rows,
    'next_cursor', case when more then
      private.encode_cursor((rows -> -1 ->> 'updated_at')::timestamptz, rows -> -1 ->> 'id') end
  );
end;
$$;
comment on function public.list_sessions(uuid, int, text) is
  'The caller''s sessions (the service role names account_id), updated_at desc then id desc, page_size 1..200 '
  'with a keyset page_cursor; each with chat_count, has_unread and has_streaming. Returns {sessions, next_cursor}.';

-- ============================================================================
-- list_chats: the caller's chats, in all sessions or one, newest activity first
-- ============================================================================
create function public.list_chats(
  account_id uuid default null,
  session_id text default null,
  page_size int default 50,
  page_cursor text default null
) returns jsonb
language plpgsql stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  owner uuid := private.acting_account(list_chats.account_id);
  after record;
  rows jsonb;
  more boolean;
begin
  perform private.check_page_size(page_size);
  select * into after from private.decode_cursor(page_cursor);
  with page as (
    select c as chat, row_number() over (order by c.updated_at desc, c.id desc) as n
      from public.chats c
      join public.sessions s on s.id = c.session_id
     where s.account_id = owner
       and (list_chats.session_id is null or c.session_id = list_chats.session_id)
       and (page_cursor is null or (c.updated_at, c.id) < (after.at, after.id))
     order by c.updated_at desc, c.id desc
     limit page_size + 1
  )
  select coalesce(jsonb_agg(private.chat_summary(page.chat) order by page.n) filter (where page.n <= page_size), '[]'),
         count(*) > page_size
    into rows, more
    from page;

  return jsonb_build_object(
    'chats', rows,
    'next_cursor', case when more then
      private.encode_cursor((rows -> -1 ->> 'updated_at')::timestamptz, rows -> -1 ->> 'id') end
  );
end;
$$;
comment on function public.list_chats(uuid, text, int, text) is
  'The caller''s chats (the service role names account_id), optionally of one session, updated_at desc then id '
  'desc, page_size 1..200 with a keyset page_cursor. Returns {chats, next_cursor}.';

-- ============================================================================
-- get_messages: a page of a chat's messages by seq
-- ============================================================================
create function public.get_messages(
  chat_id text,
  after_seq bigint default null,
  before_seq bigint default null,
  page_size int default 50
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
begin
  perform private.check_page_size(page_size);
  if after_seq is not null and before_seq is not null then
    raise sqlstate 'PT400' using message = 'send after_seq or before_seq, not both', detail = 'invalid_cursor';
  end if;
  select * into chat from public.chats c where c.id = get_messages.chat_id;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', get_messages.chat_id);
  end if;

  -- Forward from after_seq; otherwise backward from before_seq or from the newest message. n ranks
  -- the rows in the page's direction, so the one row fetched beyond the page is the one dropped.
  with page as (
    select m as message, row_number() over (order by m.seq) as n
      from public.chat_messages m
     where m.chat_id = get_messages.chat_id and after_seq is not null and m.seq > after_seq
     order by m.seq limit page_size + 1
  ), back as (
    select m as message, row_number() over (order by m.seq desc) as n
      from public.chat_messages m
     where m.chat_id = get_messages.chat_id and after_seq is null
       and m.seq < coalesce(before_seq, chat.last_message_seq + 1)
     order by m.seq desc limit page_size + 1
  ), fetched as (
    select * from page union all select * from back
  )
  select coalesce(jsonb_agg(private.message_summary(f.message) order by (f.message).seq)
                    filter (where f.n <= page_size), '[]'),
         count(*) > page_size
    into rows, more
    from fetched f;

  return jsonb_build_object('chat', private.chat_summary(chat), 'messages', rows, 'has_more', more);
end;
$$;
comment on function public.get_messages(text, bigint, bigint, int) is
  'A page of a chat''s messages, ascending by seq: the newest page_size (no cursor), the page after after_seq, or the '
  'page before before_seq (both exclusive). has_more: more exist beyond the page in its direction (older for no cursor '
  'and before_seq, newer for after_seq). Returns {chat, messages, has_more}.';

-- ============================================================================
-- chat_changes: what changed in a chat after a revision (the follow stream's reads)
-- ============================================================================
create function public.chat_changes(
  chat_id text,
  after_revision bigint default null,
  page_size int default 200
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
begin
  perform private.check_page_size(page_size);
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

  -- With more to come, the chat is reported at the last message's revision: the caller asks again from there.
  return jsonb_build_object(
    'chat', private.chat_summary(chat),
    'messages', rows,
    'has_more', more
  );
end;
$$;
comment on function public.chat_changes(text, bigint, int) is
  'Every message of a chat changed after after_revision, at its latest state, in revision order (at most page_size; '
  'has_more says to ask again after the last one), and the chat itself. No after_revision: no messages, just the '
  'chat. A cursor beyond the chat''s revision is PT400 cursor_ahead. Returns {chat, messages, has_more}.';

-- The follow stream's backstop poll: one query for every chat a process follows.
create function public.chat_revisions(chat_ids text[]) returns jsonb
language sql stable
security invoker
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(c.id, c.revision), '{}') from public.chats c where c.id = any(chat_ids)
$$;
comment on function public.chat_revisions(text[]) is
  'The current revision of each named chat the caller can see, as {chat_id: revision}: how a follow process '
  'notices a change whose notification it missed.';

-- ============================================================================
-- Who may call what
-- ============================================================================
revoke execute on function
  public.list_sessions(uuid, int, text),
  public.list_chats(uuid, text, int, text),
  public.get_messages(text, bigint, bigint, int),
  public.chat_changes(text, bigint, int),
  public.chat_revisions(text[])
  from public, anon;
revoke execute on function
  private.track_chat_change(), private.touch_session(), private.assign_message_revision(),
  private.announce_read_marker(), private.notify_chat_change(),
  private.chat_summary(public.chats), private.message_summary(public.chat_messages),
  private.encode_cursor(timestamptz, text), private.decode_cursor(text), private.check_page_size(int),
  private.is_unread(timestamptz, timestamptz)
  from public;
grant execute on function
  private.is_unread(timestamptz, timestamptz), private.chat_summary(public.chats), private.message_summary(public.chat_messages),
  private.encode_cursor(timestamptz, text), private.decode_cursor(text), private.check_page_size(int)
  to authenticated, service_role;
