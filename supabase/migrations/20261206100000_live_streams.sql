-- Live streams: the assistant's answer as it is generated, not once per agent step.
--
-- The worker forwards the AI SDK's UI message stream of the turn (streamText(...).toUIMessageStream():
-- start, start-step, text-start, text-delta, tool-input-*, tool-output-*, finish-step, finish, ...) in
-- small batches to append_chunks. The chunks are the live view between the worker's per-step writes of
-- the assistant message (append_message), which stay the durable record.
--
-- A stream is one assistant message's chunks, numbered 0, 1, 2, ... from its `start` chunk:
--
--   * chat_streams holds one row per stream: its chat, the run that writes it, how many chunks it has
--     (next_index), whether it is closed (a `finish` or `abort` chunk), and the chat revision its first
--     batch took (opened_revision). That revision orders streams among the chat's other changes: a
--     follower's position is (revision, stream, chunk), and a stream opened later has a larger
--     opened_revision than anything a follower could have seen of an earlier one.
--   * chat_stream_chunks holds the batches, a row per batch (at most 500 chunks, usually a few), each
--     with the chat revision that was current when it was written (at_revision), so that a follower
--     can put chunks and the chat's other changes in one order.
--
-- Only the worker holding the chat's lease (runner_id) appends, and each batch must start where the
-- stream ends: a retried batch is accepted once, a gap or a conflicting overlap is refused with the
-- index to resume from. When a turn ends, private.end_turn closes its stream if the worker did not
-- (finish, abort, or error then abort), so no reader ever waits on a dead worker's stream. Closed
-- streams are deleted stream_keep after they close (recover_stale_chats, which every claim runs).
--
-- Both tables are UNLOGGED (docs/performance.md, "Storing the stream"): a batch that touches only
-- them writes no WAL, so its commit waits for no disk flush, and a stream lives for minutes. A
-- database crash empties them; what is lost is the live view of the steps then in flight, never a
-- persisted message. A worker whose stream vanished is told to resend from 0 (chunk_gap), and its
-- stream opens again at a new revision, which followers replay from its start.

-- ============================================================================
-- Tables
-- ============================================================================
create unlogged table public.chat_streams (
  message_id text primary key,
  chat_id text not null references public.chats (id) on delete cascade,
  run_id text not null references public.workflow_runs (id) on delete cascade,
  opened_revision bigint not null,
  next_index integer not null default 0,
  closed_at timestamptz,
  created_at timestamptz not null default now(),
  constraint chat_streams_message_id_chk check (char_length(message_id) between 1 and 255),
  constraint chat_streams_next_index_chk check (next_index between 0 and 1000000)
);
comment on table public.chat_streams is
  'The live stream of an assistant message while it is generated: its chunks are in chat_stream_chunks, numbered '
  'from 0 (the start chunk). Written only by append_chunks (the worker holding the chat) and end_turn (which closes '
  'it). Unlogged: a database crash loses live views, never a persisted message.';
comment on column public.chat_streams.message_id is 'The assistant message being streamed (the start chunk''s messageId).';
comment on column public.chat_streams.run_id is 'The workflow run whose worker writes the stream: only while it holds the chat.';
comment on column public.chat_streams.opened_revision is
  'The chat revision the stream''s first batch took: orders this stream after every change a follower saw before it.';
comment on column public.chat_streams.next_index is 'How many chunks the stream has: the index the next batch must start at.';
comment on column public.chat_streams.closed_at is
  'When a finish or abort chunk closed the stream (by the worker, or by end_turn for it). Deleted stream_keep later.';

create index chat_streams_chat_id_opened_revision_idx on public.chat_streams (chat_id, opened_revision);
create index chat_streams_run_id_idx on public.chat_streams (run_id);
create index chat_streams_closed_at_idx on public.chat_streams (closed_at) where closed_at is not null;

create unlogged table public.chat_stream_chunks (
  message_id text not null references public.chat_streams (message_id) on delete cascade,
  from_index integer not null,
  at_revision bigint not null,
  chunks jsonb not null,
  created_at timestamptz not null default now(),
  constraint chat_stream_chunks_pkey primary key (message_id, from_index),
  constraint chat_stream_chunks_chunks_chk check (
    jsonb_typeof(chunks) = 'array' and jsonb_array_length(chunks) between 1 and 500
  )
);
comment on table public.chat_stream_chunks is
  'A batch of a stream''s chunks, the UI message chunks exactly as the worker sent them: chunks[0] has index '
  'from_index. at_revision is the chat revision current when the batch was written, which places it among the '
  'chat''s other changes for followers.';

alter table public.chat_streams enable row level security;
alter table public.chat_stream_chunks enable row level security;
create policy "Users see the streams of their chats" on public.chat_streams for select to authenticated
  using (chat_id in (select private.owned_chat_ids()));
create policy "Users see the chunks of their chats' streams" on public.chat_stream_chunks for select to authenticated
  using (message_id in (
    select s.message_id from public.chat_streams s where s.chat_id in (select private.owned_chat_ids())
  ));
-- Written only through the functions below: the API roles may read (under the policies), not write.
revoke insert, update, delete on public.chat_streams, public.chat_stream_chunks from anon, authenticated;

-- ============================================================================
-- Hints: chat_changes for chunks too
-- ============================================================================
-- A follower's feed compares a hint with what it has read; with streams that is the revision and
-- the latest stream's length. The payload stays {chat_id, revision} for a chat without streams.
create function private.change_hint(chat_id text, revision bigint) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  latest public.chat_streams;
begin
  select * into latest from public.chat_streams s
   where s.chat_id = change_hint.chat_id order by s.opened_revision desc limit 1;
  if not found then
    return json_build_object('chat_id', chat_id, 'revision', revision)::text;
  end if;
  return json_build_object('chat_id', chat_id, 'revision', revision,
                           'stream', latest.opened_revision, 'chunks', latest.next_index)::text;
end;
$$;
comment on function private.change_hint(text, bigint) is
  'The chat_changes payload: {chat_id, revision}, plus {stream, chunks} (the latest stream''s opened revision and '
  'length) when the chat has a stream.';

create or replace function private.notify_chat_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if private.defer_announcement('chat.changed', new.id) then
    return null;
  end if;
  if private.is_followed(new.id) then
    perform pg_notify('chat_changes', private.change_hint(new.id, new.revision));
  end if;
  return null;
end;
$$;

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
      perform pg_notify('chat_changes', private.change_hint(chat.id, chat.revision));
    end if;
    if chat.id = any (became_pending) and chat.status = 'pending' then
      perform pg_notify('chat_work', chat.id);
    end if;
  end loop;
end;
$$;

-- A batch of chunks changes no chat row, so no trigger announces it: append_chunks does, for a
-- followed chat, after commit when the transaction asked for that (as the functions do).
create function private.announce_chunks(chat_id text, revision bigint) returns void
language plpgsql
set search_path = ''
as $$
begin
  if not private.is_followed(chat_id) or private.defer_announcement('chat.changed', chat_id) then
    return;
  end if;
  perform pg_notify('chat_changes', private.change_hint(chat_id, revision));
end;
$$;
comment on function private.announce_chunks(text, bigint) is
  'Announces new chunks of a followed chat on chat_changes, at commit or (chat.announce = after_commit) after it.';

-- ============================================================================
-- append_chunks: the worker forwards a batch of its stream
-- ============================================================================
-- Pre: the caller (the service role) names the runner that holds the chat (running or stopping).
-- Post: the chunks from index next_index on are stored after the stream's last one, and the stream
-- is closed if the batch ends with finish or abort. Returns {next, stop}: where the next batch
-- starts, and whether the user asked to stop (the worker aborts the turn at once).
--   * The first batch (from_index 0) opens the stream: its first chunk is {type: start, messageId:
--     message_id}, and it takes the chat's next revision (opened_revision).
--   * A batch that overlaps what is stored must agree with it: the overlap is a retry, the rest is
--     appended. A retried batch returns the same answer. Disagreeing: PT409 chunk_conflict. Starting
--     after the end: PT409 chunk_gap. Both carry {next} in their details.
--   * A runner that does not hold the chat: PT409 not_held. Chunks after the closing one: PT409
--     stream_closed. Nothing is written in any of these cases.
-- Locks: a first batch locks the chat, then the stream (the order end_turn uses); any other batch
-- locks only the stream and reads the chat after that lock, so a turn that ended meanwhile is seen.
create function public.append_chunks(
  chat_id text,
  runner_id text,
  message_id text,
  from_index int,
  chunks jsonb
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  stream public.chat_streams;
  given int;
  overlap int;
  fresh jsonb;
  closing int;
begin
  if jsonb_typeof(chunks) is distinct from 'array' or jsonb_array_length(chunks) not between 1 and 500 then
    raise sqlstate 'PT400' using message = 'chunks must be an array of 1 to 500 UI message chunks',
      detail = 'invalid_request';
  end if;
  if from_index is null or from_index < 0 then
    raise sqlstate 'PT400' using message = 'from must be a chunk index (0 or more)', detail = 'invalid_request';
  end if;
  given := jsonb_array_length(chunks);

  if from_index = 0 then
    select * into chat from public.chats c where c.id = append_chunks.chat_id for update;
  end if;
  select * into stream from public.chat_streams s where s.message_id = append_chunks.message_id for update;
  if from_index > 0 then
    select * into chat from public.chats c where c.id = append_chunks.chat_id;
  end if;
  if chat.id is null then
    raise sqlstate 'PT404' using message = format('chat %s not found', append_chunks.chat_id);
  end if;
  if chat.status not in ('running', 'stopping') or chat.runner_id is distinct from append_chunks.runner_id then
    raise sqlstate 'PT409' using
      message = format('runner %s does not hold chat %s: it was stopped, recovered or finished', runner_id, chat.id),
      detail = 'not_held';
  end if;
  if stream.message_id is not null and stream.chat_id <> chat.id then
    raise sqlstate 'PT409' using message = format('message id %s is already used by another chat', message_id);
  end if;

  -- A stream an earlier turn left for the same message: a new turn streams it afresh from 0.
  if stream.message_id is not null and stream.run_id is distinct from chat.active_stream_id then
    if from_index > 0 then
      raise sqlstate 'PT409' using message = format('the stream of %s starts at 0 in this turn', message_id),
        detail = 'chunk_gap', hint = jsonb_build_object('next', 0)::text;
    end if;
    delete from public.chat_streams s where s.message_id = stream.message_id;
    stream := null;
  end if;

  if stream.message_id is null then
    if from_index > 0 then
      -- Never opened, or lost in a database crash (unlogged): the worker resends from 0.
      raise sqlstate 'PT409' using message = format('there is no stream of %s yet: send from 0', message_id),
        detail = 'chunk_gap', hint = jsonb_build_object('next', 0)::text;
    end if;
    if chunks -> 0 ->> 'type' is distinct from 'start' or chunks -> 0 ->> 'messageId' is distinct from message_id then
      raise sqlstate 'PT400' using
        message = format('a stream starts with {"type": "start", "messageId": "%s"}', message_id),
        detail = 'invalid_stream_start';
    end if;
    perform from public.chat_messages m
     where m.id = append_chunks.message_id and (m.chat_id <> chat.id or m.role <> 'assistant');
    if found then
      raise sqlstate 'PT409' using
        message = format('message id %s is already used by another chat or role', message_id);
    end if;
    update public.chats c set revision = c.revision + 1 where c.id = chat.id returning * into chat;
    insert into public.chat_streams (message_id, chat_id, run_id, opened_revision)
    values (message_id, chat.id, chat.active_stream_id, chat.revision)
    returning * into stream;
  end if;

  if from_index > stream.next_index then
    raise sqlstate 'PT409' using
      message = format('the stream of %s has %s chunks: the next batch starts at %s, not %s',
                       message_id, stream.next_index, stream.next_index, from_index),
      detail = 'chunk_gap', hint = jsonb_build_object('next', stream.next_index)::text;
  end if;

  -- What the batch repeats must be what is stored.
  overlap := least(given, stream.next_index - from_index);
  if overlap > 0 and exists (
    select from public.chat_stream_chunks k
     cross join lateral jsonb_array_elements(k.chunks) with ordinality stored(chunk, n)
      join jsonb_array_elements(append_chunks.chunks) with ordinality sent(chunk, n)
        on k.from_index + stored.n - 1 = append_chunks.from_index + sent.n - 1
     where k.message_id = append_chunks.message_id
       and k.from_index > append_chunks.from_index - 500 and k.from_index < append_chunks.from_index + overlap
       and sent.n <= overlap
       and stored.chunk is distinct from sent.chunk
  ) then
    raise sqlstate 'PT409' using
      message = format('chunks from %s differ from the ones stored: the stream has %s chunks', from_index,
                       stream.next_index),
      detail = 'chunk_conflict', hint = jsonb_build_object('next', stream.next_index)::text;
  end if;

  if overlap < given then
    if stream.closed_at is not null then
      raise sqlstate 'PT409' using
        message = format('the stream of %s is closed: no chunks after its finish or abort', message_id),
        detail = 'stream_closed', hint = jsonb_build_object('next', stream.next_index)::text;
    end if;
    select jsonb_agg(e.chunk order by e.n), min(e.n) filter (where e.chunk ->> 'type' in ('finish', 'abort'))
      into fresh, closing
      from jsonb_array_elements(chunks) with ordinality e(chunk, n)
     where e.n > overlap;
    if closing is not null and closing < given then
      raise sqlstate 'PT400' using message = 'a finish or abort chunk closes the stream: it must be the last one',
        detail = 'invalid_request';
    end if;
    if exists (select from jsonb_array_elements(fresh) with ordinality e(chunk, n)
                where e.chunk ->> 'type' = 'start' and append_chunks.from_index + e.n - 1 > 0) then
      raise sqlstate 'PT400' using message = 'only the first chunk of a stream may be a start chunk',
        detail = 'invalid_request';
    end if;
    insert into public.chat_stream_chunks (message_id, from_index, at_revision, chunks)
    values (message_id, stream.next_index, chat.revision, fresh);
    update public.chat_streams s
       set next_index = s.next_index + jsonb_array_length(fresh),
           closed_at = case when closing is not null then now() end
     where s.message_id = stream.message_id
    returning * into stream;
    perform private.announce_chunks(chat.id, chat.revision);
  end if;

  return jsonb_build_object('next', stream.next_index, 'stop', chat.status = 'stopping');
end;
$$;
comment on function public.append_chunks(text, text, text, int, jsonb) is
  'Service role: the worker holding the chat (runner_id) appends chunks from index from_index to the live stream of '
  'assistant message message_id. Idempotent for a retried batch; PT409 chunk_gap, chunk_conflict (details.next: '
  'where to resume), not_held or stream_closed, with nothing written. Returns {next, stop}.';

-- ============================================================================
-- Closing the stream when the turn ends
-- ============================================================================
-- Pre: the caller holds the chat's row lock and the turn of run_id is ending with outcome.
-- Post: every stream of the run is closed: the worker's own finish or abort if it sent one, else
-- finish (completed), abort (aborted), or an error chunk then abort (failed, expired), written here
-- at the chat's current revision. The chunks are those an AI SDK 5 client parses too: no extra keys.
create function private.close_streams(chat public.chats, outcome text) returns void
language plpgsql
set search_path = ''
as $$
declare
  stream public.chat_streams;
  ending jsonb := case outcome
    when 'completed' then '[{"type": "finish"}]'
    when 'aborted' then '[{"type": "abort"}]'
    when 'failed' then '[{"type": "error", "errorText": "the turn failed"}, {"type": "abort"}]'
    else '[{"type": "error", "errorText": "the agent stopped responding; the turn is retried"}, {"type": "abort"}]'
  end;
begin
  for stream in
    select * from public.chat_streams s
     where s.chat_id = chat.id and s.run_id = chat.active_stream_id and s.closed_at is null
     for update
  loop
    insert into public.chat_stream_chunks (message_id, from_index, at_revision, chunks)
    values (stream.message_id, stream.next_index, chat.revision, ending);
    update public.chat_streams s
       set next_index = s.next_index + jsonb_array_length(ending), closed_at = now()
     where s.message_id = stream.message_id;
  end loop;
end;
$$;
comment on function private.close_streams(public.chats, text) is
  'Closes the open streams of the chat''s holding run as its turn ends (caller holds the chat''s row lock): finish, '
  'abort, or an error chunk then abort, so no reader waits on a stream nobody writes.';

-- end_turn, again: the stream closes with the turn. Same contract as before, plus that.
create or replace function private.end_turn(chat_id text, outcome text) returns public.chats
language plpgsql
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  promoted int;
begin
  select * into chat from public.chats c where c.id = end_turn.chat_id;
  perform private.close_streams(chat, outcome);

  -- Queued messages join the history in queue order: each takes its seq and revision there.
  with moved as (
    delete from public.chat_queued_messages q where q.chat_id = end_turn.chat_id returning q.*
  )
  insert into public.chat_messages (id, chat_id, role, parts)
  select m.id, m.chat_id, 'user', m.message from moved m order by m.position
  on conflict (id) do nothing;
  get diagnostics promoted = row_count;

  update public.chats c
     set status = case
           when promoted > 0 then 'pending'
           when outcome = 'failed' then 'error'
           when outcome = 'expired' and c.status = 'running' then
             case when c.attempts >= 3 then 'error' else 'pending' end
           else 'idle'
         end,
         last_error = case
           when outcome = 'failed' then 'turn failed'
           when outcome = 'expired' and c.status = 'running' then 'lease expired'
         end,
         attempts = case
           when outcome = 'expired' and c.status = 'running' and promoted = 0 then c.attempts
           else 0
         end,
         active_stream_id = null,
         runner_id = null,
         heartbeat_at = null,
         status_changed_at = now()
   where c.id = end_turn.chat_id
  returning * into chat;
  return chat;
end;
$$;
comment on function private.end_turn(text, text) is
  'Ends the turn of a running or stopping chat (caller holds its row lock): closes its live streams, clears the '
  'lease, promotes queued messages and picks the next status from the outcome (completed, aborted, failed, expired).';

-- ============================================================================
-- recover_stale_chats and claim_chats, again: closed streams are deleted stream_keep after closing
-- ============================================================================
-- Same contracts as before, plus the stream_keep argument (STREAM_KEEP_SECONDS in the functions):
-- every call deletes up to 1,000 streams closed longer ago than that.
drop function public.claim_chats(text, int, text[], interval);
drop function public.recover_stale_chats(interval);

create function public.recover_stale_chats(
  stale_after interval default '90 seconds',
  stream_keep interval default '300 seconds'
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  stale public.chats;
  recovered jsonb := '[]';
begin
  for stale in
    select * from public.chats c
     where c.status in ('running', 'stopping') and c.heartbeat_at < now() - stale_after
     order by c.heartbeat_at
     for update skip locked
  loop
    update public.workflow_runs r
       set status = 'failed',
           finished_at = greatest(now(), r.started_at),
           total_duration_ms = round(extract(epoch from greatest(now(), r.started_at) - r.started_at) * 1000)::bigint
     where r.id = stale.active_stream_id and r.status = 'running';
    perform private.end_turn(stale.id, 'expired');
    recovered := recovered || to_jsonb(stale.id);
  end loop;

  delete from public.chat_streams s
   where s.message_id in (
     select o.message_id from public.chat_streams o
      where o.closed_at < now() - stream_keep
      order by o.closed_at
      limit 1000
        for update skip locked
   );
  return jsonb_build_object('recovered', recovered);
end;
$$;
comment on function public.recover_stale_chats(interval, interval) is
  'Service role (or pg_cron). Fails the run of every chat whose worker has not heartbeated for stale_after and ends '
  'its turn: pending again, error after three claims without a finished turn, idle if it was stopping. Deletes up '
  'to 1,000 live streams closed for longer than stream_keep. Returns {recovered: [chat ids]}. claim_chats runs it '
  'first, so no scheduler is needed.';

create function public.claim_chats(
  runner_id text,
  max_chats int default 1,
  chat_ids text[] default null,
  stale_after interval default '90 seconds',
  stream_keep interval default '300 seconds'
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  run public.workflow_runs;
  claims jsonb := '[]';
  claimed int := 0;
  wanted int;
  found_now int;
begin
  if max_chats is null or max_chats not between 1 and 20 then
    raise sqlstate 'PT400' using message = format('limit must be between 1 and 20, not %s', max_chats),
      detail = 'invalid_limit';
  end if;
  perform public.recover_stale_chats(stale_after, stream_keep);

  loop
    wanted := max_chats - claimed;
    found_now := 0;
    for chat in
      select * from public.chats c
       where c.status = 'pending' and (claim_chats.chat_ids is null or c.id = any(claim_chats.chat_ids))
       order by c.status_changed_at, c.id
       limit wanted
       for update skip locked
    loop
      found_now := found_now + 1;
      if private.over_budget((select s.account_id from public.sessions s where s.id = chat.session_id)) then
        update public.chats c
           set status = 'error', last_error = 'budget_exceeded', status_changed_at = now()
         where c.id = chat.id;
        continue;
      end if;
      insert into public.workflow_runs (id, chat_id, model_id, started_at)
      values (gen_random_uuid()::text, chat.id, chat.model_id, now())
      returning * into run;
      update public.chats c
         set status = 'running', runner_id = claim_chats.runner_id, heartbeat_at = now(),
             active_stream_id = run.id, attempts = c.attempts + 1, status_changed_at = now()
       where c.id = chat.id
      returning * into chat;
      claims := claims || jsonb_build_object('chat', private.chat_summary(chat), 'run', to_jsonb(run));
      claimed := claimed + 1;
    end loop;
    -- Done when enough are claimed or no pending chat is left; otherwise over-budget chats took
    -- places in this round, and the next round looks further.
    exit when claimed = max_chats or found_now < wanted;
  end loop;
  return jsonb_build_object('claims', claims);
end;
$$;
comment on function public.claim_chats(text, int, text[], interval, interval) is
  'Service role. Recovers stale chats (and deletes streams closed longer than stream_keep), then hands runner_id up '
  'to max_chats (1..20) of the oldest pending chats (or only those of chat_ids) whose account is within its budget, '
  'each with a new running workflow run that holds it; an over-budget chat goes to error (budget_exceeded). '
  'Returns {claims: [{chat, run}]}.';

-- ============================================================================
-- chat_changes, again: the chunks of live streams after a position
-- ============================================================================
-- Same contract as before, plus a stream position (after_stream, after_chunk): the chunks of every
-- stream after that position, at most chunk_limit of them (a whole batch at least; chunks_more says
-- to ask again), as batches {message_id, stream, from, at_revision, chunks}, and the streams they
-- belong to. Without a stream position (a follower that joins, or resumes from a plain revision):
-- the stream in flight (its run still holds the chat) from its start chunk if it opened at or before
-- the revision, and any stream opened after it. `position` is the stream position that was used.
drop function public.chat_changes(text, bigint, int);
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
           'in_flight', s.run_id is not distinct from chat.active_stream_id) order by s.opened_revision), '[]')
    into streams
    from public.chat_streams s
   where s.chat_id = chat.id and s.opened_revision >= from_stream;

  -- With more to come, the chat is reported at the last message's revision: the caller asks again from there.
  return jsonb_build_object(
    'chat', private.chat_summary(chat),
    'messages', rows,
    'has_more', more,
    'position', jsonb_build_array(from_stream, from_chunk),
    'streams', streams,
    'chunks', batches,
    'chunks_more', batches_more
  );
end;
$$;
comment on function public.chat_changes(text, bigint, int, bigint, int, int) is
  'Every message of a chat changed after after_revision, at its latest state, in revision order (at most page_size; '
  'has_more says to ask again after the last one), the chat itself, and the chunks of its live streams after the '
  'stream position (after_stream, after_chunk), or without one the stream in flight from its start (at most '
  'chunk_limit; chunks_more). No after_revision: no messages. A cursor beyond the chat''s revision is PT400 '
  'cursor_ahead. Returns {chat, messages, has_more, position, streams, chunks, chunks_more}.';

-- The follow stream's backstop poll, with streams: one query for every chat a process follows.
create function public.chat_positions(chat_ids text[]) returns jsonb
language sql stable
security invoker
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(c.id, jsonb_build_object(
           'revision', c.revision, 'stream', latest.opened_revision, 'chunks', latest.next_index)), '{}')
    from public.chats c
    left join lateral (
      select s.opened_revision, s.next_index from public.chat_streams s
       where s.chat_id = c.id order by s.opened_revision desc limit 1
    ) latest on true
   where c.id = any(chat_ids)
$$;
comment on function public.chat_positions(text[]) is
  'The current revision of each named chat the caller can see and the opened revision and length of its latest '
  'stream, as {chat_id: {revision, stream, chunks}}: how a follow process notices a change or a chunk whose hint it '
  'missed.';

-- ============================================================================
-- append_message, again: a worker may name itself
-- ============================================================================
-- Same contract as before, plus runner_id: given, the chat must be held by that runner (running or
-- stopping), else PT409 not_held and nothing is written. The example worker names itself, so a reply
-- persisted after its chat was stopped, recovered or taken by another runner does not land.
drop function public.append_message(text, jsonb);
create function public.append_message(chat_id text, message jsonb, runner_id text default null) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  message_id text := message ->> 'id';
  message_role text := message ->> 'role';
  chat public.chats;
  stored public.chat_messages;
  queued public.chat_queued_messages;
  queue_length int;
begin
  -- The chat's row lock serialises appends to one chat: seq, revision, status, the queue, the
  -- title rule and the retry checks all see a settled chat.
  select * into chat from public.chats c where c.id = append_message.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', append_message.chat_id);
  end if;
  -- A worker names itself: a runner that no longer holds the chat (stopped, recovered, finished) writes nothing.
  if append_message.runner_id is not null
     and (chat.status not in ('running', 'stopping') or chat.runner_id is distinct from append_message.runner_id) then
    raise sqlstate 'PT409' using
      message = format('runner %s does not hold chat %s: it was stopped, recovered or finished',
                       append_message.runner_id, chat.id),
      detail = 'not_held';
  end if;

  select * into stored from public.chat_messages m where m.id = message_id;
  if found then
    if stored.chat_id <> append_message.chat_id or stored.role <> message_role then
      raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
    end if;
    if message_role = 'user' or stored.parts = message then
      -- User messages are written once, and an unchanged rewrite is a retry: the stored row, unchanged.
      return jsonb_build_object('message', to_jsonb(stored), 'created', false);
    end if;
    -- The agent persists its message once per step: replace it in place, keeping its seq.
    update public.chat_messages m set parts = message where m.id = message_id returning * into stored;
    update public.chats c set last_assistant_message_at = now() where c.id = append_message.chat_id;
    return jsonb_build_object('message', to_jsonb(stored), 'created', false);
  end if;

  if message_role = 'user' then
    select * into queued from public.chat_queued_messages q where q.id = message_id;
    if found then
      if queued.chat_id <> append_message.chat_id then
        raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
      end if;
      return jsonb_build_object('queued', true, 'position', queued.position, 'message', to_jsonb(queued), 'created', false);
    end if;

    if chat.status in ('running', 'stopping') then
      select count(*) into queue_length from public.chat_queued_messages q where q.chat_id = append_message.chat_id;
      if queue_length >= 20 then
        raise sqlstate 'PT429' using
          message = format('chat %s already has 20 queued messages: wait for the agent''s turn to end', append_message.chat_id),
          detail = 'queue_full';
      end if;
      insert into public.chat_queued_messages (id, chat_id, message, position)
      values (message_id, append_message.chat_id, message, queue_length + 1)
      on conflict (id) do nothing
      returning * into queued;
      if not found then
        raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
      end if;
      return jsonb_build_object('queued', true, 'position', queued.position, 'message', to_jsonb(queued), 'created', true);
    end if;
  end if;

  insert into public.chat_messages (id, chat_id, role, parts)
  values (message_id, append_message.chat_id, message_role, message)
  on conflict (id) do nothing
  returning * into stored;
  if not found then
    -- Another account's message has this id (invisible to us), or another chat took it just now.
    raise sqlstate 'PT409' using message = format('message id %s is already used by another chat or role', message_id);
  end if;

  -- The insert's trigger already took the chat's next seq and revision.
  if message_role = 'assistant' then
    update public.chats c set last_assistant_message_at = stored.created_at where c.id = append_message.chat_id;
  else
    if chat.title = 'New chat'
      and not exists (
        select from public.chat_messages m
         where m.chat_id = append_message.chat_id and m.role = 'user' and m.id <> message_id
      )
      and private.title_from_message(message) is not null then
      update public.chats c set title = private.title_from_message(message) where c.id = append_message.chat_id;
    end if;
    if chat.status in ('idle', 'error') then
      update public.chats c
         set status = 'pending', attempts = 0, last_error = null, status_changed_at = now()
       where c.id = append_message.chat_id;
    end if;
  end if;

  return jsonb_build_object('message', to_jsonb(stored), 'created', true);
end;
$$;

comment on function public.append_message(text, jsonb, text) is
  'Appends a UIMessage to a chat as its owner (or the service role). User messages are written once (a retry returns '
  'the stored row, created false) and make an idle, error or pending chat pending; to a running or stopping chat they '
  'wait in its queue ({queued, position}; PT429 queue_full past 20). Assistant messages are replaced in place, keeping '
  'their seq (the agent persists its message once per step). runner_id, when given, must hold the chat (PT409 '
  'not_held). Returns {message, created} or {queued, position, message, created}.';

-- ============================================================================
-- Who may call what
-- ============================================================================
revoke execute on function
  public.append_chunks(text, text, text, int, jsonb),
  public.recover_stale_chats(interval, interval),
  public.claim_chats(text, int, text[], interval, interval)
  from public, anon, authenticated;
revoke execute on function
  public.append_message(text, jsonb, text),
  public.chat_changes(text, bigint, int, bigint, int, int),
  public.chat_positions(text[])
  from public, anon;
revoke execute on function
  private.change_hint(text, bigint), private.announce_chunks(text, bigint), private.close_streams(public.chats, text)
  from public;
grant execute on function private.change_hint(text, bigint) to authenticated, service_role;
grant execute on function private.announce_chunks(text, bigint), private.close_streams(public.chats, text)
  to service_role;
