-- Reading and following a conversation: a per-chat change cursor (revision), the read operations
-- (session and chat lists with unread flags, message pages by seq) and the change feed that the
-- follow-chat stream is built on, with the hints that wake it.
--
-- The cursor, in one paragraph: chats.revision counts the changes a follower must see. A message
-- inserted or rewritten takes the chat's next revision (under the chat's row lock, which appends
-- already take) and records it in chat_messages.revision; any other change of the chat's visible
-- state (title, model, run state, archiving, the owner's read marker) takes the next revision too,
-- unless its transaction already took one; a live stream takes one when it opens
-- (07_streaming.sql). So revisions increase in commit order per chat, like seq, and a reader holding
-- everything up to revision N that asks for "revision > N" never misses a committed change.
--
-- Hints: a new revision of a chat that a change feed follows (private.followed_chats) is announced
-- with pg_notify('chat_changes', {chat_id, revision[, stream, chunks]}): a hint for followers, never
-- the data, and a poll (chat_positions) is the backstop. Most chats being written have no follower,
-- so only followed chats are announced: every hint costs the writer a turn at PostgreSQL's
-- cluster-wide notify lock. A transaction may ask for its hints to be sent after it commits
-- (chat.announce = 'after_commit', as the edge functions do: the call's answer returns what it
-- deferred, and private.send_announcements() sends it in a transaction of its own), so that the lock
-- is not held across its commit's disk flush.
--
--   list_sessions, list_chats   the caller's sessions and chats, newest activity first, keyset pages
--   get_messages                a page of a chat's messages by seq
--   chat_changes                what changed in a chat after a revision (and a stream position)
--   chat_revisions              the backstop poll without streams (chat_positions has them)
--   follow_chats                a change feed registers the chats it follows

-- Function bodies here read tables that later files create (chat_summary: chat_usage; chat_changes:
-- chat_streams): they are checked when first called, not while this file loads.
set check_function_bodies = off;

-- ============================================================================
-- Taking revisions
-- ============================================================================

-- The chat side of every change, and the chat's updated_at: it must not move for bookkeeping alone
-- (a read marker moving, a lease heartbeat), because lists are ordered by it and must not reorder
-- every time someone reads.
create function private.track_chat_change() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  revision_asked boolean := new.revision is distinct from old.revision;
  -- The new row with its bookkeeping (the cursor's, worker leases') as it was: if it still differs
  -- from the old row, something a reader sees changed.
  without_bookkeeping public.chats := new;
  state_changed boolean;
begin
  without_bookkeeping.updated_at := old.updated_at;
  without_bookkeeping.revision := old.revision;
  without_bookkeeping.revision_txid := old.revision_txid;
  without_bookkeeping.heartbeat_at := old.heartbeat_at;
  state_changed := without_bookkeeping is distinct from old;
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
-- `updated_at < now()` skips sessions this transaction already touched, and SKIP LOCKED a session
-- another transaction is moving right now (to the same moment, give or take the length of a
-- transaction, so the list's order is unchanged): the chats of one session never wait for each other.
-- A chat moves its session on its first activity in each second, not at every write: the session's
-- row was hot under every writer of its chats (84 µs of an append's 708 at 16 writers in one
-- session), for a precision no list shows (migration 20261207140000).
create function private.touch_session() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.sessions s set updated_at = now()
   where s.id = (
     select t.id from public.sessions t
      where t.id = new.session_id and t.updated_at < now()
        for no key update skip locked
   );
  return null;
end;
$$;
comment on function private.touch_session() is
  'AFTER INSERT on chats, and UPDATE on a chat''s first activity in a second: moves the session''s updated_at, so '
  'sessions list by latest activity (to within a second); skipped when another transaction is moving it at the same '
  'moment, so chats of one session never wait for each other.';

create trigger chats_touch_session after insert on public.chats
  for each row execute function private.touch_session();
create trigger chats_touch_session_on_activity after update on public.chats
  for each row when (date_trunc('second', new.updated_at) is distinct from date_trunc('second', old.updated_at))
  execute function private.touch_session();

-- A new message takes the next seq and the next revision in one update of its chat
-- (private.assign_message_seq, 02_sessions_chats_messages.sql); a rewritten one (the agent persists
-- its message once per step) takes the next revision here.
create function private.assign_message_revision() returns trigger
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

-- ============================================================================
-- Hints: chat_changes, for followed chats only
-- ============================================================================
-- The change feed of each function process registers the chats it follows before its followers'
-- first read, and renews them with its 1 s poll; a registration lapses 30 s after its last renewal
-- (a process that died). No change is missed either way: a hint only says "read now", a follower's
-- first read comes after its registration, and the feed's poll reads what a hint did not announce.
create unlogged table private.followed_chats (
  chat_id text primary key,
  until timestamptz not null
);
comment on table private.followed_chats is
  'Chats a change feed follows, until when (renewed every second while followed). Only these get chat_changes '
  'hints. Unlogged: after a crash it starts empty, and the feeds register their chats again at their next poll.';
-- Only the SECURITY DEFINER functions below touch it.
alter table private.followed_chats enable row level security;
revoke all on table private.followed_chats from public, anon, authenticated, service_role;

-- In PL/pgSQL, so that its plan is kept for the session: every change to a chat calls it.
create function private.is_followed(chat_id text) returns boolean
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return exists (select from private.followed_chats f where f.chat_id = is_followed.chat_id and f.until > now());
end;
$$;
comment on function private.is_followed(text) is 'True while a change feed follows the chat (private.followed_chats).';

-- Registers (or renews) chats as followed for the next 30 s. A renewal writes only when the
-- registration has less than 20 s left, so a feed polling every second writes each row once in 10 s.
create function public.follow_chats(chat_ids text[]) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into private.followed_chats as f (chat_id, until)
  select distinct id, now() + interval '30 seconds' from unnest(chat_ids) id
  on conflict (chat_id) do update set until = excluded.until
   where f.until < now() + interval '20 seconds';
  -- Lapsed registrations go here rather than in a job of their own.
  delete from private.followed_chats f where f.until < now() - interval '1 minute';
  return jsonb_build_object('following', cardinality(chat_ids));
end;
$$;
comment on function public.follow_chats(text[]) is
  'Service role: registers the chats as followed for 30 s, so their changes are announced on chat_changes. '
  'The follow-chat change feed calls it before a chat''s first read and with every poll; a custom LISTENer on '
  'chat_changes calls it too.';

-- Hints after commit. Transaction-local lists, which the call's answer returns before it commits
-- (call-text.ts): chat.changed holds the followed chats that took a new revision, chat.became_pending
-- those that became pending (04_run_control.sql), both as text[] literals (chat ids are client-chosen
-- text and may hold commas).
create function private.defer_announcement(list text, chat_id text) returns boolean
language plpgsql
set search_path = ''
as $$
begin
  if current_setting('chat.announce', true) is distinct from 'after_commit' then
    return false;
  end if;
  perform set_config(list, (coalesce(nullif(current_setting(list, true), ''), '{}')::text[] || chat_id)::text, true);
  return true;
end;
$$;
comment on function private.defer_announcement(text, text) is
  'When the transaction asked for chat.announce = after_commit: adds the chat to the transaction''s list `list` '
  '(chat.changed or chat.became_pending, text[] literals that the call''s answer returns) and returns true. '
  'Otherwise returns false: notify now.';

-- The trigger path (writers that do not defer their hints). SECURITY DEFINER: whether a chat is
-- followed is the server's business, so the API roles may execute neither is_followed nor change_hint.
create function private.notify_chat_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not private.is_followed(new.id) or private.defer_announcement('chat.changed', new.id) then
    return null;
  end if;
  perform pg_notify('chat_changes', private.change_hint(new.id, new.revision));
  return null;
end;
$$;
comment on function private.notify_chat_change() is
  'AFTER UPDATE on chats: for every new revision of a followed chat, pg_notify(''chat_changes'', '
  'private.change_hint(...)): {chat_id, revision}, plus {stream, chunks} while it has a live stream; at commit, or '
  'after it through private.send_announcements() when the transaction set chat.announce = after_commit.';

create trigger chats_notify_change after update on public.chats
  for each row when (new.revision is distinct from old.revision)
  execute function private.notify_chat_change();

-- The deferred path: the same, for the chats a committed call deferred, in a transaction of its own.
create function private.send_announcements(changed text[], became_pending text[]) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  chat record;
begin
  -- This transaction's commit need not wait for the disk: it writes no data, and while it commits
  -- it holds the cluster-wide notify lock.
  perform set_config('synchronous_commit', 'off', true);
  for chat in
    select c.id, c.revision, c.status from public.chats c
     where c.id = any (coalesce(changed, '{}') || coalesce(became_pending, '{}')) order by c.id
  loop
    if chat.id = any (changed) and private.is_followed(chat.id) then
      perform pg_notify('chat_changes', private.change_hint(chat.id, chat.revision));
    end if;
    if chat.id = any (became_pending) and chat.status = 'pending' then
      perform pg_notify('chat_work', chat.id);
    end if;
  end loop;
end;
$$;
comment on function private.send_announcements(text[], text[]) is
  'Sends what a committed call deferred with chat.announce = after_commit (the lists its answer returned): '
  'chat_changes for the chats still followed, chat_work for the chats still pending. Reads each chat as it is now: a '
  'hint says "look", never what to see. It turns off synchronous_commit for its transaction (a hint lost in a crash is '
  'caught by the followers'' and workers'' polls).';

-- ============================================================================
-- Realtime
-- ============================================================================
-- Clients can also follow a conversation through Supabase Realtime (Postgres Changes): a chat's new and
-- rewritten messages, and the chat's own changes (title, run state, last assistant message time).
-- Realtime delivers a change only to subscribers whose RLS select policy admits the row, so each user
-- hears only their own chats.
alter publication supabase_realtime add table public.chats, public.chat_messages;

-- ============================================================================
-- Shapes the read operations return
-- ============================================================================

-- The unread rule, in one place: the agent wrote (inserted or rewrote a message) after the
-- reader's marker, or there is no marker and the agent has written.
-- PL/pgSQL, not SQL: with its pinned search_path a SQL function is never inlined, and a call per row
-- from a SQL function costs more than one from PL/pgSQL (list_sessions over an account's 10,000 chats:
-- 27 against 20 ms, migration 20261207130000).
create function private.is_unread(last_assistant_message_at timestamptz, last_read_at timestamptz) returns boolean
language plpgsql immutable
set search_path = ''
as $$
begin
  return last_assistant_message_at is not null
     and (last_read_at is null or last_assistant_message_at > last_read_at);
end;
$$;
comment on function private.is_unread(timestamptz, timestamptz) is
  'True when assistant activity happened after the read marker (or there is activity and no marker).';

-- The chat as every read, the follow stream and the run-control operations show it
-- (functions/_shared/schemas.ts: chatSummary). The read marker is the owner's: only the owner can hold
-- one, and the service role reads on the owner's behalf.
create function private.chat_summary(chat public.chats) returns jsonb
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

-- A message as pages and the follow stream show it: the stored UIMessage under `message`.
-- PL/pgSQL, not SQL: a SQL function with a pinned search_path is never inlined, and each statement
-- that calls it parses its body again; append_message calls it once a transaction, where parsing
-- it cost 75 µs of the append's PostgreSQL CPU, against 12 as PL/pgSQL (migration 20261207110000).
create function private.message_summary(m public.chat_messages) returns jsonb
language plpgsql immutable
set search_path = ''
as $$
begin
  return jsonb_build_object(
    'id', m.id, 'role', m.role, 'seq', m.seq, 'revision', m.revision, 'written_by', m.written_by,
    'created_at', m.created_at, 'updated_at', m.updated_at, 'message', m.parts
  );
end;
$$;
comment on function private.message_summary(public.chat_messages) is
  'A message as the read API returns it: {id, role, seq, revision, written_by, created_at, updated_at, message}.';

-- Keyset cursors: (updated_at, id) of the last row of a page, as opaque URL-safe base64. A cursor is
-- exactly [timestamp, id] as encode_cursor writes it; anything else (a forged one) is PT400.
create function private.encode_cursor(at timestamptz, id text) returns text
language sql immutable
set search_path = ''
as $$
  select translate(encode(convert_to(jsonb_build_array(at, id)::text, 'UTF8'), 'base64'), E'+/=\n', '-_')
$$;
comment on function private.encode_cursor(timestamptz, text) is
  'The next_cursor of a list page: (updated_at, id) of its last row, URL-safe base64, opaque to clients.';

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
-- Each session's figures (chat_count, has_unread, has_streaming) leave archived chats out, as the
-- chat list does, so an archived chat raises no unread dot.
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
      -- Each chat's read marker by its key: joined instead, the planner hashed every marker of the
      -- account once per session (166 against 31 ms for 51 sessions of an account with 10,000 chats).
      select count(*)::int as chat_count,
             coalesce(bool_or(private.is_unread(c.last_assistant_message_at, (
               select r.last_read_at from public.chat_reads r where r.account_id = owner and r.chat_id = c.id
             ))), false) as has_unread,
             coalesce(bool_or(c.active_stream_id is not null), false) as has_streaming
        from public.chats c
       where c.session_id = (n.p).id and c.archived_at is null
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
  'with a keyset page_cursor; each with chat_count, has_unread and has_streaming over its chats that are not '
  'archived. Returns {sessions, next_cursor}.';

-- ============================================================================
-- list_chats: the caller's chats, in all sessions or one, newest activity first
-- ============================================================================
create function public.list_chats(
  account_id uuid default null,
  session_id text default null,
  page_size int default 50,
  page_cursor text default null,
  include_archived boolean default false
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
  -- The account's chats in list order straight from chats_account_id_updated_at_idx (or a session's
  -- from chats_session_id_updated_at_idx): page_size + 1 rows read, however many chats there are.
  with page as (
    select c as chat, row_number() over (order by c.updated_at desc, c.id desc) as n
      from public.chats c
     where c.account_id = owner
       and (list_chats.session_id is null or c.session_id = list_chats.session_id)
       and (list_chats.include_archived or c.archived_at is null)
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
comment on function public.list_chats(uuid, text, int, text, boolean) is
  'The caller''s chats (the service role names account_id), optionally of one session, updated_at desc then id '
  'desc, page_size 1..200 with a keyset page_cursor; archived chats only with include_archived. Returns {chats, '
  'next_cursor}.';

-- ============================================================================
-- get_messages: a page of a chat's messages by seq
-- ============================================================================
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
-- chat_changes: what changed in a chat after a revision (the follow stream's reads)
-- ============================================================================
-- Messages changed after after_revision, the chat itself and its owner's account_id (a follow process
-- reads as the service role and fans out; each follower ends when the chat it follows is no longer its
-- owner's), and the chunks of the chat's live streams after a stream position (after_stream,
-- after_chunk): at most chunk_limit of them (a whole batch at least; chunks_more says to ask again), as
-- batches {message_id, stream, from, at_revision, chunks}, and the streams they belong to. Without a
-- stream position (a follower that joins, or resumes from a plain revision): the stream in flight (its
-- run still holds the chat) from its start chunk if it opened at or before the revision, and any
-- stream opened after it. `position` is the stream position that was used.
create function public.chat_changes(
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

-- The follow stream's backstop poll before streams existed: one query for every chat a process follows.
create function public.chat_revisions(chat_ids text[]) returns jsonb
language sql stable
security invoker
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(c.id, c.revision), '{}') from public.chats c where c.id = any(chat_ids)
$$;
comment on function public.chat_revisions(text[]) is
  'The current revision of each named chat the caller can see, as {chat_id: revision}. The follow process polls '
  'chat_positions, which adds the live streams; this one stays for LISTENers of one''s own.';

-- ============================================================================
-- Who may call what
-- ============================================================================
revoke execute on function
  public.list_sessions(uuid, int, text),
  public.list_chats(uuid, text, int, text, boolean),
  public.get_messages(text, bigint, bigint, int, int),
  public.chat_changes(text, bigint, int, bigint, int, int),
  public.chat_revisions(text[])
  from public, anon;
revoke execute on function public.follow_chats(text[]) from public, anon, authenticated;
grant execute on function public.follow_chats(text[]) to service_role;
revoke execute on function
  private.track_chat_change(), private.touch_session(), private.assign_message_revision(),
  private.announce_read_marker(), private.notify_chat_change(),
  private.chat_summary(public.chats), private.message_summary(public.chat_messages),
  private.encode_cursor(timestamptz, text), private.decode_cursor(text), private.check_page_size(int),
  private.is_unread(timestamptz, timestamptz), private.defer_announcement(text, text),
  private.send_announcements(text[], text[])
  from public;
revoke execute on function private.is_followed(text) from public, anon, authenticated;
grant execute on function
  private.is_unread(timestamptz, timestamptz), private.chat_summary(public.chats), private.message_summary(public.chat_messages),
  private.encode_cursor(timestamptz, text), private.decode_cursor(text), private.check_page_size(int),
  private.defer_announcement(text, text)
  to authenticated, service_role;
grant execute on function private.is_followed(text), private.send_announcements(text[], text[]) to service_role;
