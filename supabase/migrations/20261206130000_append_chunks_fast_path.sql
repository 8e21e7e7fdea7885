-- append_chunks, faster on its common path (docs/performance.md, "Storing the stream").
--
-- Nearly every call is the next batch of an open stream of the turn its runner holds. The first version
-- took seven statements for it (the stream locked, the chat read, two passes over the chunks, the
-- insert, the stream's update, the hint): an append-chunks batch cost PostgreSQL 0.42 of an
-- append-message, where a third was the aim. Now one UPDATE of the stream's row, joined to the chat,
-- both locks it and checks the lease and the position, and one pass checks the chunks. Everything
-- else (opening a stream, retries and overlaps, every refusal) takes the path it took before, so the
-- contract is unchanged (tests/db/streams.test.ts, tests/functions/append-chunks.test.ts).

create or replace function public.append_chunks(
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
