-- Durations in milliseconds are bigint: an integer holds at most 2^31 - 1 ms, about 24.8 days, so a
-- workflow run that lasted longer (an agent left waiting over a holiday) could never be finished:
-- computing its total_duration_ms overflowed and the call failed. bigint holds 292 million years.
--
-- Widening integer to bigint rewrites both tables once; their CHECKs (>= 0) carry over unchanged.

alter table public.workflow_runs alter column total_duration_ms type bigint;
alter table public.workflow_run_steps alter column duration_ms type bigint;

-- log_workflow_step computed both durations with ::int casts, which overflow before the value
-- reaches the column. Replaced with the same signature and behaviour, the casts now ::bigint
-- (CREATE OR REPLACE keeps its grants and comment).
create or replace function public.log_workflow_step(
  run_id text,
  chat_id text,
  started_at timestamptz,
  model_id text default null,
  steps jsonb default '[]',
  finish_status text default null,
  finished_at timestamptz default null
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  run public.workflow_runs;
  run_created boolean;
  step jsonb;
  step_started timestamptz;
  step_finished timestamptz;
  recorded jsonb := '[]';
  inserted_id text;
begin
  perform from public.chats c where c.id = log_workflow_step.chat_id;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', log_workflow_step.chat_id);
  end if;

  insert into public.workflow_runs (id, chat_id, model_id, started_at)
  values (run_id, log_workflow_step.chat_id, log_workflow_step.model_id, log_workflow_step.started_at)
  on conflict (id) do nothing;
  run_created := found;
  -- Lock the run: concurrent calls for one run (steps, finish) apply one after another.
  select * into run from public.workflow_runs r where r.id = run_id for update;
  if run.chat_id <> log_workflow_step.chat_id then
    raise sqlstate 'PT409' using message = format('run %s belongs to another chat', run_id);
  end if;

  for step in select * from jsonb_array_elements(steps) loop
    step_started := (step ->> 'started_at')::timestamptz;
    step_finished := (step ->> 'finished_at')::timestamptz;
    if step_finished < step_started then
      raise sqlstate 'PT400' using message = format('step %s finished before it started', step ->> 'step_number');
    end if;
    insert into public.workflow_run_steps (
      workflow_run_id, step_number, started_at, finished_at, duration_ms, finish_reason, raw_finish_reason
    ) values (
      run_id, (step ->> 'step_number')::int, step_started, step_finished,
      round(extract(epoch from step_finished - step_started) * 1000)::bigint,
      step ->> 'finish_reason', step ->> 'raw_finish_reason'
    )
    on conflict (workflow_run_id, step_number) do nothing
    returning id into inserted_id;
    recorded := recorded || jsonb_build_object('step_number', (step ->> 'step_number')::int, 'recorded', found);
  end loop;

  if finish_status is not null then
    if finished_at < run.started_at then
      raise sqlstate 'PT400' using message = format('run %s cannot finish before it started', run_id);
    end if;
    if run.status = 'running' then
      update public.workflow_runs r
         set status = finish_status,
             finished_at = log_workflow_step.finished_at,
             total_duration_ms = round(extract(epoch from log_workflow_step.finished_at - r.started_at) * 1000)::bigint
       where r.id = run_id
      returning * into run;
      -- The run no longer streams into its chat: release the lease if it still holds it.
      update public.chats c set active_stream_id = null
       where c.id = log_workflow_step.chat_id and c.active_stream_id = run_id;
    elsif run.status <> finish_status then
      raise sqlstate 'PT409' using
        message = format('run %s already finished as %s', run_id, run.status);
    end if;
  end if;

  return jsonb_build_object('run', to_jsonb(run), 'created', run_created, 'steps', recorded);
end;
$$;
