// Everything an account owns, as one comparable value: whatever a refused request or an attack
// tried, this must be the same before and after (tests/security, tests/fuzz).
import type { Sql } from "./db.ts";

export async function everythingOf(sql: Sql, accountId: string) {
  const [row] = await sql`
    with s as (select * from sessions where account_id = ${accountId}),
         c as (select * from chats where session_id in (select id from s)),
         r as (select * from workflow_runs where chat_id in (select id from c))
    select (select count(*) from accounts where id = ${accountId})::int as accounts,
           (select json_agg(s order by id) from s)::text as sessions,
           (select json_agg(c order by id) from c)::text as chats,
           (select json_agg(m order by id) from chat_messages m where chat_id in (select id from c))::text as messages,
           (select json_agg(x order by chat_id) from chat_reads x where chat_id in (select id from c))::text as reads,
           (select json_agg(q order by id) from chat_queued_messages q where chat_id in (select id from c))::text
             as queued,
           (select json_agg(h order by chat_id, history_version) from chat_history_cuts h
             where chat_id in (select id from c))::text as cuts,
           (select json_agg(k order by id, cut_in) from chat_cut_messages k where chat_id in (select id from c))::text
             as cut_messages,
           (select json_agg(r order by id) from r)::text as runs,
           (select json_agg(t order by id) from workflow_run_steps t where workflow_run_id in (select id from r))::text
             as steps,
           (select json_agg(l order by session_id, source) from session_context_resources l
             where session_id in (select id from s))::text as live_context,
           (select json_agg(p order by chat_id, source) from chat_context_resources p
             where chat_id in (select id from c))::text as pinned_context,
           (select json_agg(b) from account_budgets b where account_id = ${accountId})::text as budget,
           (select json_agg(d order by day, provider, model_id, agent_type, stripe) from usage_daily d
             where account_id = ${accountId})::text as usage`;
  return row;
}
