-- The budget check on every user message, cheaper: 103 µs of an append's 1,144 in PostgreSQL
-- (docs/performance.md). It joined the chat to its session as the caller, so two tables' row level
-- security ran again for a row the insert's own policy had just admitted. The chat now carries its
-- account (20261206150000): the check reads the chat alone.
create or replace function private.check_budget() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  chat_status text;
  owner uuid;
  budget jsonb;
begin
  select c.status, c.account_id into chat_status, owner from public.chats c where c.id = new.chat_id;
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
