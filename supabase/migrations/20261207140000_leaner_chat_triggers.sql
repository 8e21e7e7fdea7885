-- The triggers every append runs, cheaper (issue 22: an append's PostgreSQL CPU back towards what it
-- was before read-and-follow). Figures from docs/performance.md: in one backend, 2,000 appends as the
-- user per measurement, each its own transaction, interleaved rounds; and the bare append from 16
-- writers on the 16 chats of one session (CPU-bound), interleaved rounds.
--
-- 1. track_chat_change compared the whole chat as JSON (two to_jsonb of the row on every update of a
--    chat) to tell activity from bookkeeping. It now compares the row itself, with the bookkeeping
--    columns put back to their old values: the same answer.
-- 2. check_budget read the chat, then called private.budget_status, whose statement found no budget
--    for most accounts. One statement now reads the chat and whether its account has a budget;
--    budget_status runs only when it has. 1 and 2: 510 -> 445 µs per append in one backend.
-- 3. The session's touch fired on every change of a chat, and the session's row was hot under every
--    writer of its chats. A chat now moves its session on its first activity in each second (its
--    updated_at enters a new second): a session's updated_at is its latest activity to within a
--    second, a precision no list shows, and a chat written to in a burst moves it once a second
--    instead of at every write. At 16 writers in one session: 708 -> 624 µs per append.

create or replace function private.track_chat_change() returns trigger
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

create or replace function private.check_budget() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  chat_status text;
  owner uuid;
  has_budget boolean;
  budget jsonb;
begin
  -- One statement in the common case, an account without a budget.
  select c.status, c.account_id, b.account_id is not null into chat_status, owner, has_budget
    from public.chats c left join public.account_budgets b on b.account_id = c.account_id
   where c.id = new.chat_id;
  if not has_budget then
    return new;
  end if;
  -- Queued messages were checked when they were queued; they join the history when the turn ends,
  -- a write of the backend's (never of an API role).
  if tg_table_name = 'chat_messages' and chat_status in ('running', 'stopping')
     and current_user not in ('authenticated', 'anon') then
    return new;
  end if;
  budget := private.budget_status(owner);
  if (budget ->> 'exceeded')::boolean then
    raise sqlstate 'PT402' using
      message = case
        when (budget ->> 'used_cost_micros')::bigint >= (budget ->> 'limit_cost_micros')::bigint then
          format('the account is over its monthly budget: %s of %s micro-USD used since %s',
                 budget ->> 'used_cost_micros', budget ->> 'limit_cost_micros', budget ->> 'period_start')
        else
          format('the account is over its monthly budget: %s of %s tokens used since %s',
                 budget ->> 'used_total_tokens', budget ->> 'limit_total_tokens', budget ->> 'period_start')
      end,
      detail = 'budget_exceeded',
      hint = budget::text;
  end if;
  return new;
end;
$$;

drop trigger chats_touch_session_on_activity on public.chats;
create trigger chats_touch_session_on_activity after update on public.chats
  for each row when (date_trunc('second', new.updated_at) is distinct from date_trunc('second', old.updated_at))
  execute function private.touch_session();
comment on function private.touch_session() is
  'AFTER INSERT on chats, and UPDATE on a chat''s first activity in a second: moves the session''s updated_at, so '
  'sessions list by latest activity (to within a second); skipped when another transaction is moving it at the same '
  'moment, so chats of one session never wait for each other.';
