-- chat_changes hints only for chats someone follows.
--
-- Sending a hint costs every writer a turn at PostgreSQL's cluster-wide notify lock, even in the
-- non-durable transaction the functions send it in since 20261125160000: with 16 concurrent
-- appends, a quarter of the throughput (docs/performance.md). Most chats that are being written
-- have no follower (an agent working while its user looks elsewhere, background and sub-agent
-- chats), so the hint goes only to chats that a change feed has registered as followed.
--
-- The change feed of each function process registers the chats it follows before its followers'
-- first read, and renews them with its 1 s poll; a registration lapses 30 s after its last renewal
-- (a process that died). No change is missed either way: a hint only says "read now", a follower's
-- first read comes after its registration, and the feed's poll reads what a hint did not announce.
-- chat_work (a chat became pending) is not affected: workers follow no particular chat.

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

create function private.is_followed(chat_id text) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (select from private.followed_chats f where f.chat_id = is_followed.chat_id and f.until > now())
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

revoke execute on function private.is_followed(text), public.follow_chats(text[]) from public, anon, authenticated;
grant execute on function private.is_followed(text) to authenticated, service_role;
grant execute on function public.follow_chats(text[]) to service_role;

-- The trigger path (writers that do not defer their hints).
create or replace function private.notify_chat_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if private.defer_announcement('chat.changed', new.id) then
    return null;
  end if;
  if private.is_followed(new.id) then
    perform pg_notify('chat_changes', json_build_object('chat_id', new.id, 'revision', new.revision)::text);
  end if;
  return null;
end;
$$;
comment on function private.notify_chat_change() is
  'AFTER UPDATE on chats: pg_notify(''chat_changes'', {chat_id, revision}) for every new revision of a followed '
  'chat, at commit, or after it through private.send_announcements() when the transaction set '
  'chat.announce = after_commit.';

-- The deferred path: the same, for the chats the session's committed transactions changed.
create or replace function private.send_announcements() returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  changed constant text[] := coalesce(nullif(current_setting('chat.changed', true), ''), '{}');
  became_pending constant text[] := coalesce(nullif(current_setting('chat.became_pending', true), ''), '{}');
  chat record;
begin
  if cardinality(changed) + cardinality(became_pending) = 0 then
    return;
  end if;
  perform set_config('chat.changed', '', false), set_config('chat.became_pending', '', false);
  -- This transaction's commit need not wait for the disk: it writes no data, and while it commits
  -- it holds the cluster-wide notify lock.
  perform set_config('synchronous_commit', 'off', true);
  for chat in
    select c.id, c.revision, c.status from public.chats c where c.id = any (changed || became_pending) order by c.id
  loop
    if chat.id = any (changed) and private.is_followed(chat.id) then
      perform pg_notify('chat_changes', json_build_object('chat_id', chat.id, 'revision', chat.revision)::text);
    end if;
    if chat.id = any (became_pending) and chat.status = 'pending' then
      perform pg_notify('chat_work', chat.id);
    end if;
  end loop;
end;
$$;
