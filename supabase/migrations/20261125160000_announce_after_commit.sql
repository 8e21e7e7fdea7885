-- Appends stop waiting for one another: the change hints can be sent after commit, and a session's
-- activity time no longer locks the session for the rest of the transaction.
--
-- Read-and-follow and run control made concurrent appends commit one at a time, for two reasons
-- (measured in docs/performance.md, "append-message with the follow and run-control triggers"):
--
-- 1. pg_notify. At commit PostgreSQL queues a transaction's notifications under one cluster-wide
--    lock and holds it until the commit record is flushed to disk. Every append notified
--    (chat_changes, and chat_work when its chat became pending), so every append waited for the
--    flushes of all the others: no group commit.
-- 2. The session touch. Every chat change moved its session's updated_at, and the row lock that
--    takes lasted until commit: the chats of one session (a user's parallel chats, sub-agents)
--    appended one at a time.
--
-- The fixes:
--
-- 1. A transaction may ask for its hints to be sent after it commits: with the setting
--    chat.announce = 'after_commit' (transaction-local), the two notify triggers record the chat's
--    id in a session-level list instead of notifying, and private.send_announcements(), called in a
--    second, non-durable transaction right after the commit, sends them. The hint then costs the
--    lock for an in-memory queue insert, not for a disk flush, and it still never precedes the
--    change. The edge functions do this in the same round trip (functions/_shared/call-text.ts).
--    Every other writer (SQL, supabase.rpc on hosted Supabase, pg_cron's stale-run recovery) keeps
--    the hint inside its transaction, as before.
-- 2. A chat change moves its session's updated_at only if no other transaction is moving it right
--    now (FOR UPDATE SKIP LOCKED). The other one is moving it to the same moment, give or take the
--    length of a transaction, so the session list's order is unchanged.

-- ============================================================================
-- 1. Hints after commit
-- ============================================================================

-- Session-level lists (a GUC survives the commit; an aborted transaction takes its changes to the
-- list with it): chat.changed holds the chats that took a new revision, chat.became_pending those
-- that became pending, both as text[] literals (chat ids are client-chosen text and may hold commas).
create function private.defer_announcement(list text, chat_id text) returns boolean
language plpgsql
set search_path = ''
as $$
begin
  if current_setting('chat.announce', true) is distinct from 'after_commit' then
    return false;
  end if;
  perform set_config(list, (coalesce(nullif(current_setting(list, true), ''), '{}')::text[] || chat_id)::text, false);
  return true;
end;
$$;
comment on function private.defer_announcement(text, text) is
  'When the transaction asked for chat.announce = after_commit: adds the chat to the session-level list `list` '
  '(chat.changed or chat.became_pending) and returns true. Otherwise returns false: notify now.';

create or replace function private.notify_chat_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if not private.defer_announcement('chat.changed', new.id) then
    perform pg_notify('chat_changes', json_build_object('chat_id', new.id, 'revision', new.revision)::text);
  end if;
  return null;
end;
$$;
comment on function private.notify_chat_change() is
  'AFTER UPDATE on chats: pg_notify(''chat_changes'', {chat_id, revision}) for every new revision, at commit, or '
  'after it through private.send_announcements() when the transaction set chat.announce = after_commit.';

create or replace function private.announce_pending_chat() returns trigger
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

-- Sends what the session's committed transactions deferred, and empties the lists. Reads each chat
-- as it is now (its latest revision, whether it is still pending): a hint says "look", never what
-- to see, so a later state is as good as the one that was committed, and better.
create function private.send_announcements() returns void
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
    if chat.id = any (changed) then
      perform pg_notify('chat_changes', json_build_object('chat_id', chat.id, 'revision', chat.revision)::text);
    end if;
    if chat.id = any (became_pending) and chat.status = 'pending' then
      perform pg_notify('chat_work', chat.id);
    end if;
  end loop;
end;
$$;
comment on function private.send_announcements() is
  'Sends the chat_changes and chat_work hints that this session''s committed transactions deferred with '
  'chat.announce = after_commit. Call it in its own transaction right after the commit; it turns off '
  'synchronous_commit for that transaction (a hint lost in a crash is caught by the followers'' and workers'' polls).';

revoke execute on function private.defer_announcement(text, text), private.send_announcements() from public;
grant execute on function private.defer_announcement(text, text) to authenticated, service_role;
grant execute on function private.send_announcements() to service_role;

-- ============================================================================
-- 2. The session touch, without the wait
-- ============================================================================
create or replace function private.touch_session() returns trigger
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
  'AFTER INSERT or activity UPDATE on chats: moves the session''s updated_at, so sessions list by latest '
  'activity; skipped when another transaction is moving it at the same moment, so chats of one session '
  'never wait for each other here.';

-- ============================================================================
-- 3. Less work per append
-- ============================================================================

-- The budget check runs on every user message. As a SQL function called from PL/pgSQL,
-- budget_status was planned afresh on every call (about a quarter of an append's database time);
-- the same query in PL/pgSQL keeps its plan for the session.
create or replace function private.budget_status(account uuid) returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  return (
    select jsonb_build_object(
             'period', b.period,
             'period_start', private.period_start(b.period),
             'limit_cost_micros', b.limit_cost_micros,
             'used_cost_micros', used.cost_micros,
             'limit_total_tokens', b.limit_total_tokens,
             'used_total_tokens', used.total_tokens,
             'exceeded', coalesce(used.cost_micros >= b.limit_cost_micros, false)
                         or coalesce(used.total_tokens >= b.limit_total_tokens, false)
           )
      from public.account_budgets b
     cross join lateral (
       select coalesce(sum(d.cost_micros), 0)::bigint as cost_micros,
              coalesce(sum(d.total_tokens), 0)::bigint as total_tokens
         from public.usage_daily d
        where d.account_id = b.account_id and d.day >= private.period_start(b.period)
     ) used
     where b.account_id = account
  );
end;
$$;

-- Every append updates its chat and its session, and neither update can be HOT (updated_at is in
-- the list indexes), so each index of the two tables is written on every append. These two are
-- prefixes of the list indexes, which serve the same lookups (and the foreign keys' checks).
drop index public.chats_session_id_idx;
drop index public.sessions_account_id_idx;
