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
-- index to resume from. When a turn ends, private.end_turn (04_run_control.sql) closes its stream if
-- the worker did not (finish, abort, or error then abort), so no reader ever waits on a dead worker's
-- stream. Closed streams are deleted stream_keep after they close (recover_stale_chats, which every
-- claim runs). Followers read the chunks through chat_changes and poll with chat_positions; new
-- chunks of a followed chat are announced on chat_changes (03_reads_and_follow.sql).
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
  continues jsonb,
  constraint chat_streams_message_id_chk check (char_length(message_id) between 1 and 255),
  constraint chat_streams_next_index_chk check (next_index between 0 and 1000000)
);
comment on table public.chat_streams is
  'The live stream of an assistant message while it is generated: its chunks are in chat_stream_chunks, numbered '
  'from 0 (the start chunk). Written by append_chunks (the worker holding the chat) and private.close_streams (the '
  'closing chunks when a turn ends); recover_stale_chats deletes it stream_keep after it closed. Unlogged: a '
  'database crash loses live views, never a persisted message.';
comment on column public.chat_streams.message_id is 'The assistant message being streamed (the start chunk''s messageId).';
comment on column public.chat_streams.run_id is 'The workflow run whose worker writes the stream: only while it holds the chat.';
comment on column public.chat_streams.opened_revision is
  'The chat revision the stream''s first batch took: orders this stream after every change a follower saw before it.';
comment on column public.chat_streams.next_index is 'How many chunks the stream has: the index the next batch must start at.';
comment on column public.chat_streams.closed_at is
  'When a finish or abort chunk closed the stream (by the worker, or by end_turn for it). Deleted stream_keep later.';
comment on column public.chat_streams.continues is
  'The stored message this stream continues (the chunks add to it), as it was when the stream opened; NULL for a '
  'new message.';

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
  using (exists (select from public.chats c where c.id = chat_streams.chat_id offset 0));
create policy "Users see the chunks of their chats' streams" on public.chat_stream_chunks for select to authenticated
  using (exists (select from public.chat_streams s where s.message_id = chat_stream_chunks.message_id offset 0));
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
-- The next batch of an open stream (nearly every call) takes one statement for all of that.
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
  at_revision bigint;
  chat_status text;
  next_index int;
  starts int;
begin
  if jsonb_typeof(chunks) is distinct from 'array' or jsonb_array_length(chunks) not between 1 and 500 then
    raise sqlstate 'PT400' using message = 'chunks must be an array of 1 to 500 UI message chunks',
      detail = 'invalid_request';
  end if;
  if from_index is null or from_index < 0 then
    raise sqlstate 'PT400' using message = 'from must be a chunk index (0 or more)', detail = 'invalid_request';
  end if;
  given := jsonb_array_length(chunks);

  -- The common case in one statement: the next batch of an open stream of the turn this runner holds.
  -- It locks the stream's row (as the path below does; end_turn, which holds the chat, waits for it or
  -- makes it find the stream closed) and reads the lease through the chat's committed row.
  if from_index > 0 then
    update public.chat_streams s
       set next_index = s.next_index + given,
           closed_at = case when chunks -> (given - 1) ->> 'type' in ('finish', 'abort') then now() end
      from public.chats c
     where s.message_id = append_chunks.message_id and s.next_index = append_chunks.from_index
       and s.closed_at is null and c.id = s.chat_id and c.id = append_chunks.chat_id
       and c.status in ('running', 'stopping') and c.runner_id = append_chunks.runner_id
       and s.run_id = c.active_stream_id
    returning c.revision, c.status, s.next_index into at_revision, chat_status, next_index;
    if found then
      select count(*) filter (where e.chunk ->> 'type' = 'start'),
             min(e.n) filter (where e.chunk ->> 'type' in ('finish', 'abort'))
        into starts, closing
        from jsonb_array_elements(chunks) with ordinality e(chunk, n);
      if starts > 0 or closing < given then
        raise sqlstate 'PT400' using
          message = 'only the first chunk of a stream may be a start chunk, and a finish or abort chunk must be the last',
          detail = 'invalid_request';
      end if;
      insert into public.chat_stream_chunks (message_id, from_index, at_revision, chunks)
      values (message_id, from_index, at_revision, chunks);
      perform private.announce_chunks(chat_id, at_revision);
      return jsonb_build_object('next', next_index, 'stop', chat_status = 'stopping');
    end if;
  end if;

  -- Everything else: opening a stream, retries and overlaps, refusals.

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

-- ============================================================================
-- chat_positions: the follow stream's backstop poll
-- ============================================================================
-- One query for every chat a process follows: its revision and its latest stream's position.
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
-- Who may call what
-- ============================================================================
revoke execute on function public.append_chunks(text, text, text, int, jsonb) from public, anon, authenticated;
revoke execute on function public.chat_positions(text[]) from public, anon;
revoke execute on function
  private.change_hint(text, bigint), private.announce_chunks(text, bigint), private.close_streams(public.chats, text)
  from public;
grant execute on function
  private.change_hint(text, bigint), private.announce_chunks(text, bigint), private.close_streams(public.chats, text)
  to service_role;
