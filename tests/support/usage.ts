// The usage totals as the trigger maintains them, and the same totals recomputed from scratch by
// scanning every step: a test of the totals compares the two.
import type { Sql } from "./db.ts";

/** Each total's measures, recomputed from the steps (unknown counts as 0, as the trigger counts them). */
const measures = `
  sum(coalesce(st.input_tokens, 0))::bigint as input_tokens,
  sum(coalesce(st.cache_read_tokens, 0))::bigint as cache_read_tokens,
  sum(coalesce(st.cache_write_tokens, 0))::bigint as cache_write_tokens,
  sum(coalesce(st.output_tokens, 0))::bigint as output_tokens,
  sum(coalesce(st.reasoning_tokens, 0))::bigint as reasoning_tokens,
  sum(coalesce(st.total_tokens, 0))::bigint as total_tokens,
  sum(coalesce(st.tool_call_count, 0))::bigint as tool_calls,
  sum(coalesce(st.cost_micros, 0))::bigint as cost_micros,
  count(*) filter (where st.cost_micros is null)::bigint as unpriced_steps,
  count(*)::bigint as steps,
  count(*) filter (where st.step_number = 1)::bigint as turns`;

const stepsWithOwners = `
  from workflow_run_steps st
  join workflow_runs r on r.id = st.workflow_run_id
  join chats c on c.id = r.chat_id
  join sessions s on s.id = c.session_id`;

const recomputations = {
  workflow_run_usage: `select st.workflow_run_id, s.account_id, ${measures} ${stepsWithOwners} group by 1, 2`,
  chat_usage: `select c.id as chat_id, s.account_id, ${measures} ${stepsWithOwners} group by 1, 2`,
  session_usage: `select s.id as session_id, s.account_id, ${measures} ${stepsWithOwners} group by 1, 2`,
  usage_daily: `
    select s.account_id, (st.finished_at at time zone 'UTC')::date as day,
           coalesce(st.provider, '') as provider, coalesce(st.model_id, r.model_id, '') as model_id,
           coalesce(st.agent_type, 'main') as agent_type, (hashtext(st.workflow_run_id) & 7)::smallint as stripe,
           ${measures}
      ${stepsWithOwners} group by 1, 2, 3, 4, 5, 6`,
};
export type UsageTable = keyof typeof recomputations;
export const usageTables = Object.keys(recomputations) as UsageTable[];

const keyColumns: Record<UsageTable, string> = {
  workflow_run_usage: "workflow_run_id",
  chat_usage: "chat_id",
  session_usage: "session_id",
  usage_daily: "account_id, day, provider, model_id, agent_type, stripe",
};

/** Both sides as JSON rows (as to_jsonb writes them), ordered by key; only rows of `accounts` if given. */
export async function totalsAndRecomputation(sql: Sql, table: UsageTable, accounts?: string[]) {
  const read = async (from: string) => {
    const rows = await sql.unsafe(
      `select to_jsonb(t) - 'created_at' as row from (${from}) t
        where $1::uuid[] is null or t.account_id = any($1::uuid[]) order by ${keyColumns[table]}`,
      [accounts ?? null],
    );
    return rows.map((r) => r.row);
  };
  return { maintained: await read(`select * from ${table}`), recomputed: await read(recomputations[table]) };
}
