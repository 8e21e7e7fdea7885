-- Usage and budgets: what each agent step used and cost, exact totals per workflow run, chat,
-- session and account day, and a monthly budget per account that is enforced before a turn starts.
--
-- Recording. A workflow step may carry its token usage (the AI SDK's LanguageModelUsage, which the
-- edge function maps to the snake_case columns of workflow_run_steps), the provider and model, whether
-- the main agent or a subagent made the call, its tool calls, and its cost in micro-USD when the caller
-- knows it. A step is inserted once (unique (workflow_run_id, step_number), ON CONFLICT DO NOTHING),
-- and one AFTER INSERT trigger adds it to four totals in the same transaction:
--
--   workflow_run_usage  per run: what one turn cost
--   chat_usage          per chat: shown with every chat the read API returns
--   session_usage       per session
--   usage_daily         per account, UTC day (of the step's finished_at), provider, model, agent type
--
-- A retried step is not inserted, so its trigger does not fire: that is what keeps every total
-- exact under retries, without ever recomputing anything by scanning steps.
--
-- The totals are a ledger of what was spent. Deleting a run or a chat deletes its own totals row
-- (every foreign key cascades) but does not take its usage out of its session's or account's totals:
-- tokens that were paid for stay paid for. Deleting the account deletes everything.
--
-- Contention. Usage rows are counters that many transactions add to, and a row lock taken by an
-- update is held until commit (the WAL flush included), so every design choice below keeps
-- concurrent steps off each other's rows, or keeps them on them for as short as possible:
-- * Chat totals live in chat_usage, not in chats: recording usage never waits for (or holds) the
--   chat's row lock that appends take, and never moves the chat's revision or updated_at.
-- * An account's day is striped: usage_daily has eight rows per (account, day, provider, model,
--   agent type), and a run's steps always go to the stripe its id hashes to, so concurrent turns of
--   one account mostly update different rows. Reads add the stripes up.
-- * Lock order: a transaction takes an advisory lock on (account, stripe) before any usage row, then
--   run, chat, session, day rows. A turn whose steps use two models (a main agent and a subagent)
--   updates two day rows; without that lock, two such turns could take them in opposite orders and
--   deadlock. With it, the day rows of a stripe are written by one transaction at a time.
-- * No index covers a counter column, and the tables leave room on each page (fillfactor 70), so
--   an update is a HOT update: a new row version on the same page, no index entry.
-- Concurrent turns in one session still share its session_usage row; docs/performance.md ("Usage")
-- has the figures.
--
-- Budgets. account_budgets holds an account's monthly limits (cost, total tokens; either may be
-- null). An account whose usage this UTC month is at or over a limit gets no new turn: claim_chats
-- puts its pending chats in error ('budget_exceeded') instead of handing them to a worker
-- (04_run_control.sql), and every new user message (into the history or the queue, through
-- append_message or inserted directly) is refused with PT402 budget_exceeded, carrying the limit and
-- the amount used. Raising the limit lets the next message run.

-- ============================================================================
-- The totals: one definition of the measures, four tables that add them up
-- ============================================================================
-- Every totals table below is created LIKE this template (its columns, defaults, CHECK and comments),
-- so the measures are defined once. It never holds rows.
create table private.usage_totals (
  input_tokens bigint not null default 0,
  cache_read_tokens bigint not null default 0,
  cache_write_tokens bigint not null default 0,
  output_tokens bigint not null default 0,
  reasoning_tokens bigint not null default 0,
  total_tokens bigint not null default 0,
  tool_calls bigint not null default 0,
  cost_micros bigint not null default 0,
  unpriced_steps bigint not null default 0,
  steps bigint not null default 0,
  turns bigint not null default 0,
  constraint usage_totals_nonnegative_chk check (
    least(input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, reasoning_tokens, total_tokens,
          tool_calls, cost_micros, unpriced_steps, steps, turns) >= 0
  )
);
comment on table private.usage_totals is
  'The measures every usage total has; a template (CREATE TABLE ... LIKE) that never holds rows.';
comment on column private.usage_totals.input_tokens is 'Sum of the steps'' input_tokens (unknown counts as 0).';
comment on column private.usage_totals.cache_read_tokens is 'Sum of the steps'' cache_read_tokens.';
comment on column private.usage_totals.cache_write_tokens is 'Sum of the steps'' cache_write_tokens.';
comment on column private.usage_totals.output_tokens is 'Sum of the steps'' output_tokens.';
comment on column private.usage_totals.reasoning_tokens is 'Sum of the steps'' reasoning_tokens.';
comment on column private.usage_totals.total_tokens is 'Sum of the steps'' total_tokens: what token budgets count.';
comment on column private.usage_totals.tool_calls is 'Sum of the steps'' tool_call_count.';
comment on column private.usage_totals.cost_micros is
  'Sum of the known step costs in micro-USD: complete only when unpriced_steps is 0, a lower bound otherwise.';
comment on column private.usage_totals.unpriced_steps is 'Steps whose cost was not known (cost_micros NULL).';
comment on column private.usage_totals.steps is 'Steps recorded, main agent and subagents alike.';
comment on column private.usage_totals.turns is
  'Agent turns: runs whose step 1 was recorded here (a turn starts with the main agent''s first model call).';

create table public.workflow_run_usage (
  workflow_run_id text primary key references public.workflow_runs (id) on delete cascade,
  account_id uuid not null references public.accounts (id) on delete cascade,
  like private.usage_totals including defaults including constraints including comments,
  created_at timestamptz not null default now()
) with (fillfactor = 70);
create index workflow_run_usage_account_id_idx on public.workflow_run_usage (account_id);
comment on table public.workflow_run_usage is
  'What one workflow run (an agent turn) used so far, main agent and subagents together. Maintained by the '
  'step trigger; account_id is the run''s owner, copied so that reads need no ownership chain.';

create table public.chat_usage (
  chat_id text primary key references public.chats (id) on delete cascade,
  account_id uuid not null references public.accounts (id) on delete cascade,
  like private.usage_totals including defaults including constraints including comments,
  created_at timestamptz not null default now()
) with (fillfactor = 70);
create index chat_usage_account_id_idx on public.chat_usage (account_id);
comment on table public.chat_usage is
  'What a chat''s runs used, all time. Apart from chats, so recording usage never touches the chat''s row.';

create table public.session_usage (
  session_id text primary key references public.sessions (id) on delete cascade,
  account_id uuid not null references public.accounts (id) on delete cascade,
  like private.usage_totals including defaults including constraints including comments,
  created_at timestamptz not null default now()
) with (fillfactor = 70);
create index session_usage_account_id_idx on public.session_usage (account_id);
comment on table public.session_usage is
  'What a session''s chats used, all time (including chats deleted since: usage that was paid for stays).';

create table public.usage_daily (
  account_id uuid not null references public.accounts (id) on delete cascade,
  day date not null,
  provider text not null,
  model_id text not null,
  agent_type text not null,
  stripe smallint not null,
  like private.usage_totals including defaults including constraints including comments,
  created_at timestamptz not null default now(),
  primary key (account_id, day, provider, model_id, agent_type, stripe),
  constraint usage_daily_agent_type_chk check (agent_type in ('main', 'subagent')),
  constraint usage_daily_stripe_chk check (stripe between 0 and 7)
) with (fillfactor = 70);
comment on table public.usage_daily is
  'An account''s usage per UTC day (of each step''s finished_at), provider, model and agent type, in up to eight '
  'stripes that reads add up: what the usage read and budgets sum, a few rows per day however many steps. '
  'Outlives deleted chats and sessions.';
comment on column public.usage_daily.provider is 'The steps'' provider; '''' when they did not say.';
comment on column public.usage_daily.model_id is 'The steps'' model (or their run''s); '''' when neither said.';
comment on column public.usage_daily.stripe is
  'private.usage_stripe(workflow_run_id): concurrent turns of one account add to different rows. Not a dimension.';
comment on constraint usage_daily_pkey on public.usage_daily is
  'Also the index of every usage read and budget check: one account, a range of days.';

-- A run's stripe: its id's hash, modulo 8. All steps of a run share it.
create function private.usage_stripe(workflow_run_id text) returns smallint
language sql immutable
set search_path = ''
as $$
  select (hashtext(workflow_run_id) & 7)::smallint
$$;
comment on function private.usage_stripe(text) is 'The usage_daily stripe (0..7) of a workflow run: its id''s hash.';

-- ============================================================================
-- Adding a step to the totals
-- ============================================================================
create function private.add_step_usage() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  owner uuid;
  step_chat_id text;
  step_session_id text;
  step_model_id text;
  step_day date := (new.finished_at at time zone 'UTC')::date;
  run_stripe smallint := private.usage_stripe(new.workflow_run_id);
  -- The step's contribution to every total.
  input bigint := coalesce(new.input_tokens, 0);
  cache_read bigint := coalesce(new.cache_read_tokens, 0);
  cache_write bigint := coalesce(new.cache_write_tokens, 0);
  output bigint := coalesce(new.output_tokens, 0);
  reasoning bigint := coalesce(new.reasoning_tokens, 0);
  total bigint := coalesce(new.total_tokens, 0);
  tools bigint := coalesce(new.tool_call_count, 0);
  cost bigint := coalesce(new.cost_micros, 0);
  unpriced bigint := (new.cost_micros is null)::int;
  turn bigint := (new.step_number = 1)::int;
begin
  select s.account_id, c.id, s.id, coalesce(new.model_id, r.model_id, '')
    into owner, step_chat_id, step_session_id, step_model_id
    from public.workflow_runs r
    join public.chats c on c.id = r.chat_id
    join public.sessions s on s.id = c.session_id
   where r.id = new.workflow_run_id;

  -- Before any usage row: the (account, stripe) lock, so day rows are never taken in two orders.
  perform pg_advisory_xact_lock(hashtext(owner::text), run_stripe);

  insert into public.workflow_run_usage as u (
    workflow_run_id, account_id, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens,
    reasoning_tokens, total_tokens, tool_calls, cost_micros, unpriced_steps, steps, turns
  ) values (
    new.workflow_run_id, owner, input, cache_read, cache_write, output, reasoning, total, tools, cost, unpriced, 1, turn
  ) on conflict (workflow_run_id) do update set
    input_tokens = u.input_tokens + input, cache_read_tokens = u.cache_read_tokens + cache_read,
    cache_write_tokens = u.cache_write_tokens + cache_write, output_tokens = u.output_tokens + output,
    reasoning_tokens = u.reasoning_tokens + reasoning, total_tokens = u.total_tokens + total,
    tool_calls = u.tool_calls + tools, cost_micros = u.cost_micros + cost,
    unpriced_steps = u.unpriced_steps + unpriced, steps = u.steps + 1, turns = u.turns + turn;

  insert into public.chat_usage as u (
    chat_id, account_id, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens,
    reasoning_tokens, total_tokens, tool_calls, cost_micros, unpriced_steps, steps, turns
  ) values (
    step_chat_id, owner, input, cache_read, cache_write, output, reasoning, total, tools, cost, unpriced, 1, turn
  ) on conflict (chat_id) do update set
    input_tokens = u.input_tokens + input, cache_read_tokens = u.cache_read_tokens + cache_read,
    cache_write_tokens = u.cache_write_tokens + cache_write, output_tokens = u.output_tokens + output,
    reasoning_tokens = u.reasoning_tokens + reasoning, total_tokens = u.total_tokens + total,
    tool_calls = u.tool_calls + tools, cost_micros = u.cost_micros + cost,
    unpriced_steps = u.unpriced_steps + unpriced, steps = u.steps + 1, turns = u.turns + turn;

  insert into public.session_usage as u (
    session_id, account_id, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens,
    reasoning_tokens, total_tokens, tool_calls, cost_micros, unpriced_steps, steps, turns
  ) values (
    step_session_id, owner, input, cache_read, cache_write, output, reasoning, total, tools, cost, unpriced, 1, turn
  ) on conflict (session_id) do update set
    input_tokens = u.input_tokens + input, cache_read_tokens = u.cache_read_tokens + cache_read,
    cache_write_tokens = u.cache_write_tokens + cache_write, output_tokens = u.output_tokens + output,
    reasoning_tokens = u.reasoning_tokens + reasoning, total_tokens = u.total_tokens + total,
    tool_calls = u.tool_calls + tools, cost_micros = u.cost_micros + cost,
    unpriced_steps = u.unpriced_steps + unpriced, steps = u.steps + 1, turns = u.turns + turn;

  insert into public.usage_daily as u (
    account_id, day, provider, model_id, agent_type, stripe, input_tokens, cache_read_tokens, cache_write_tokens,
    output_tokens, reasoning_tokens, total_tokens, tool_calls, cost_micros, unpriced_steps, steps, turns
  ) values (
    owner, step_day, coalesce(new.provider, ''), step_model_id, coalesce(new.agent_type, 'main'), run_stripe,
    input, cache_read, cache_write, output, reasoning, total, tools, cost, unpriced, 1, turn
  ) on conflict (account_id, day, provider, model_id, agent_type, stripe) do update set
    input_tokens = u.input_tokens + input, cache_read_tokens = u.cache_read_tokens + cache_read,
    cache_write_tokens = u.cache_write_tokens + cache_write, output_tokens = u.output_tokens + output,
    reasoning_tokens = u.reasoning_tokens + reasoning, total_tokens = u.total_tokens + total,
    tool_calls = u.tool_calls + tools, cost_micros = u.cost_micros + cost,
    unpriced_steps = u.unpriced_steps + unpriced, steps = u.steps + 1, turns = u.turns + turn;

  return null;
end;
$$;
comment on function private.add_step_usage() is
  'AFTER INSERT on workflow_run_steps: adds the new step to its run''s, chat''s, session''s and account day''s '
  'totals, under its (account, stripe) lock. A step not inserted (a retry) adds nothing.';

create trigger workflow_run_steps_add_usage after insert on public.workflow_run_steps
  for each row execute function private.add_step_usage();

-- ============================================================================
-- Budgets
-- ============================================================================
create table public.account_budgets (
  account_id uuid primary key references public.accounts (id) on delete cascade,
  period text not null default 'month',
  limit_cost_micros bigint,
  limit_total_tokens bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint account_budgets_period_chk check (period in ('month')),
  constraint account_budgets_limits_chk check (limit_cost_micros >= 0 and limit_total_tokens >= 0)
);
comment on table public.account_budgets is
  'An account''s spending limits per period (a UTC calendar month). An account at or over either limit gets no '
  'new agent turn. No row, or a NULL limit: no limit. Written by the service role; owners read theirs.';
comment on column public.account_budgets.limit_cost_micros is
  'The most the account may spend per period, in micro-USD, as recorded in the steps'' cost_micros.';
comment on column public.account_budgets.limit_total_tokens is 'The most total_tokens the account may use per period.';

create trigger account_budgets_set_updated_at before update on public.account_budgets
  for each row execute function private.set_updated_at();

-- The first day of the budget period that contains today (UTC).
create function private.period_start(period text) returns date
language sql stable
set search_path = ''
as $$
  select case period when 'month' then date_trunc('month', now() at time zone 'UTC')::date end
$$;
comment on function private.period_start(text) is 'The first UTC day of the current budget period (month).';

-- Where an account stands against its budget this period: NULL when it has no budget. It runs on
-- every user message (private.check_budget): in PL/pgSQL its plan is kept for the session, where a
-- SQL function called from PL/pgSQL would be planned afresh on every call.
create function private.budget_status(account uuid) returns jsonb
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
comment on function private.budget_status(uuid) is
  'The account''s budget and its use this period: {period, period_start, limit_cost_micros, used_cost_micros, '
  'limit_total_tokens, used_total_tokens, exceeded}; exceeded when used >= a limit. NULL: no budget.';

create function private.over_budget(account uuid) returns boolean
language sql stable
set search_path = ''
as $$
  select coalesce((private.budget_status(account) ->> 'exceeded')::boolean, false)
$$;
comment on function private.over_budget(uuid) is 'True when the account is at or over a limit of its budget this period.';

-- Refuses a new user message of an account that is over its budget, whoever inserts it (an operation
-- or a client writing the table directly). The one exception: a user message that enters the history
-- of a running (or stopping) chat from the backend is the end of a turn promoting the queue; those
-- messages were checked when they were queued, and refusing them would fail the finish of the turn.
create function private.check_budget() returns trigger
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
comment on function private.check_budget() is
  'BEFORE INSERT of a user message (chat_messages, chat_queued_messages): PT402 budget_exceeded when the chat''s '
  'account is over its budget; the hint carries private.budget_status() as JSON.';

create trigger chat_messages_check_budget before insert on public.chat_messages
  for each row when (new.role = 'user') execute function private.check_budget();
create trigger chat_queued_messages_check_budget before insert on public.chat_queued_messages
  for each row execute function private.check_budget();

-- set_budget: the service role sets (or lifts) an account's limits.
create function public.set_budget(
  account_id uuid,
  limit_cost_micros bigint default null,
  limit_total_tokens bigint default null
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
begin
  perform from public.accounts a where a.id = set_budget.account_id;
  if not found then
    raise sqlstate 'PT404' using message = format('account %s not found', set_budget.account_id);
  end if;
  insert into public.account_budgets (account_id, limit_cost_micros, limit_total_tokens)
  values (set_budget.account_id, set_budget.limit_cost_micros, set_budget.limit_total_tokens)
  on conflict (account_id) do update
    set limit_cost_micros = excluded.limit_cost_micros, limit_total_tokens = excluded.limit_total_tokens;
  return jsonb_build_object('budget', private.budget_status(set_budget.account_id));
end;
$$;
comment on function public.set_budget(uuid, bigint, bigint) is
  'Service role. Sets the account''s monthly limits (NULL: no limit on that measure); returns {budget} as '
  'private.budget_status reports it, so the caller sees at once whether the account is over.';

-- ============================================================================
-- get_usage: an account's usage by day, model, session or chat
-- ============================================================================
create function public.get_usage(
  account_id uuid default null,
  from_day date default null,
  to_day date default null,
  group_by text default 'day',
  page_size int default 100
) returns jsonb
language plpgsql stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  owner uuid := private.acting_account(get_usage.account_id);
  first_day date := coalesce(from_day, private.period_start('month'));
  last_day date := coalesce(to_day, (now() at time zone 'UTC')::date);
  rows jsonb;
  more boolean := false;
begin
  if group_by is null or group_by not in ('day', 'model', 'session', 'chat') then
    raise sqlstate 'PT400' using message = format('group_by must be day, model, session or chat, not %s', group_by),
      detail = 'invalid_group_by';
  end if;
  perform private.check_page_size(page_size);

  if group_by in ('day', 'model') then
    if first_day > last_day then
      raise sqlstate 'PT400' using message = format('from (%s) is after to (%s)', first_day, last_day),
        detail = 'invalid_range';
    end if;
    -- json_agg rather than jsonb_agg: a year of days is built as text, about twice as fast.
    select coalesce(json_agg(g order by
             case when group_by = 'day' then g.key end,
             g.cost_micros desc, g.total_tokens desc, g.key), '[]')::jsonb
      into rows
      from (
        select case group_by when 'day' then to_char(d.day, 'YYYY-MM-DD') else nullif(d.model_id, '') end as key,
               sum(d.input_tokens)::bigint as input_tokens, sum(d.cache_read_tokens)::bigint as cache_read_tokens,
               sum(d.cache_write_tokens)::bigint as cache_write_tokens, sum(d.output_tokens)::bigint as output_tokens,
               sum(d.reasoning_tokens)::bigint as reasoning_tokens, sum(d.total_tokens)::bigint as total_tokens,
               sum(d.tool_calls)::bigint as tool_calls, sum(d.cost_micros)::bigint as cost_micros,
               sum(d.unpriced_steps)::bigint as unpriced_steps, sum(d.steps)::bigint as steps,
               sum(d.turns)::bigint as turns
          from public.usage_daily d
         where d.account_id = owner and d.day between first_day and last_day
         group by 1
      ) g;
    return jsonb_build_object('group_by', group_by, 'from', first_day, 'to', last_day, 'rows', rows, 'has_more', false,
                              'budget', private.budget_status(owner));
  end if;

  -- session and chat: the maintained all-time totals, most expensive first, page_size at most. No index
  -- orders them by cost (so that recording stays HOT): the innermost query picks the top page_size + 1
  -- with a top-N sort of narrow rows, and only those are turned into JSON.
  if group_by = 'session' then
    select coalesce(jsonb_agg(jsonb_build_object('key', t.session_id) || (t.totals - 'session_id') order by t.n)
             filter (where t.n <= page_size), '[]'),
           count(*) > page_size
      into rows, more
      from (
        select top.session_id, to_jsonb(u) - array['account_id', 'created_at'] as totals,
               row_number() over (order by top.cost_micros desc, top.total_tokens desc, top.session_id) as n
          from (
            select u.session_id, u.cost_micros, u.total_tokens from public.session_usage u
             where u.account_id = owner
             order by u.cost_micros desc, u.total_tokens desc, u.session_id
             limit page_size + 1
          ) top
          join public.session_usage u on u.session_id = top.session_id
      ) t;
  else
    select coalesce(jsonb_agg(jsonb_build_object('key', t.chat_id) || (t.totals - 'chat_id') order by t.n)
             filter (where t.n <= page_size), '[]'),
           count(*) > page_size
      into rows, more
      from (
        select top.chat_id, to_jsonb(u) - array['account_id', 'created_at'] as totals,
               row_number() over (order by top.cost_micros desc, top.total_tokens desc, top.chat_id) as n
          from (
            select u.chat_id, u.cost_micros, u.total_tokens from public.chat_usage u
             where u.account_id = owner
             order by u.cost_micros desc, u.total_tokens desc, u.chat_id
             limit page_size + 1
          ) top
          join public.chat_usage u on u.chat_id = top.chat_id
      ) t;
  end if;
  return jsonb_build_object('group_by', group_by, 'from', null, 'to', null, 'rows', rows, 'has_more', more,
                            'budget', private.budget_status(owner));
end;
$$;
comment on function public.get_usage(uuid, date, date, text, int) is
  'The caller''s usage (the service role names account_id). group_by day or model: sums over usage_daily for the '
  'UTC days from_day..to_day (default: this month to today), by day ascending or by model, most expensive first. '
  'group_by session or chat: the maintained all-time totals, most expensive first, at most page_size (1..200). '
  'Returns {group_by, from, to, rows: [{key, <measures>}], has_more, budget} (budget: private.budget_status).';

-- ============================================================================
-- Who may read what
-- ============================================================================
alter table public.workflow_run_usage enable row level security;
alter table public.chat_usage enable row level security;
alter table public.session_usage enable row level security;
alter table public.usage_daily enable row level security;
alter table public.account_budgets enable row level security;

-- Usage is written by the step trigger and budgets by the service role (which bypasses RLS); owners
-- only read. Each table carries account_id, so each policy is the ownership rule's root.
create policy "Users see their own run usage"
  on public.workflow_run_usage for select to authenticated
  using (account_id = (select auth.uid()));
create policy "Users see their own chat usage"
  on public.chat_usage for select to authenticated
  using (account_id = (select auth.uid()));
create policy "Users see their own session usage"
  on public.session_usage for select to authenticated
  using (account_id = (select auth.uid()));
create policy "Users see their own daily usage"
  on public.usage_daily for select to authenticated
  using (account_id = (select auth.uid()));
create policy "Users see their own budget"
  on public.account_budgets for select to authenticated
  using (account_id = (select auth.uid()));

revoke execute on function public.get_usage(uuid, date, date, text, int) from public, anon;
revoke execute on function public.set_budget(uuid, bigint, bigint) from public, anon, authenticated;
revoke execute on function
  private.add_step_usage(), private.usage_stripe(text), private.check_budget(), private.period_start(text),
  private.budget_status(uuid), private.over_budget(uuid)
  from public;
grant execute on function private.period_start(text), private.budget_status(uuid), private.over_budget(uuid)
  to authenticated, service_role;
-- The step trigger runs as whoever inserts steps: the service role (log-workflow-step).
grant execute on function private.usage_stripe(text) to service_role;
