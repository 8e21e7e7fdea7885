-- Change hints after the commit, without a second transaction on every write. Until now the edge
-- functions sent `commit; select private.send_announcements()` after every writing call: a second
-- transaction even when it had nothing to send, which is most appends (a chat nobody follows, already
-- pending). Now a writing call's own answer says what it deferred (the lists are local to its
-- transaction), and the function sends the hints in a second call only when there are some
-- (functions/_shared/db.ts). A chat nobody follows is no longer deferred at all.

-- The lists live as long as the transaction: the call's answer reads them before it commits.
create or replace function private.defer_announcement(list text, chat_id text) returns boolean
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

-- Only a followed chat's change is a hint, deferred or not.
create or replace function private.notify_chat_change() returns trigger
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

-- What a committed call deferred, sent in a transaction of its own.
drop function private.send_announcements();
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
revoke execute on function private.send_announcements(text[], text[]) from public;
grant execute on function private.send_announcements(text[], text[]) to service_role;
