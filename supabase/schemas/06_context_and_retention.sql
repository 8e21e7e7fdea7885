-- Context resources and retention.
--
-- Context resources: an agent works against instruction files (AGENTS.md), skills and attached
-- files that the sandbox side reports and overwrites freely, last writer wins:
-- session_context_resources is that live view. A chat keeps its own copy of what it was started
-- with (chat_context_resources, its "pins"), so a reload never changes what the model saw; comparing
-- the pins with the live view by content hash tells the UI "context changed since this chat
-- started; refresh?". A pin has no foreign key to the live view: it outlives the resource it copied.
--
--   push_context   service role: upsert the live view (optionally replacing it whole)
--   pin_context    owner or service role: copy the live view (all, or named sources) into the chat
--   get_context    owner or service role: the pins with their bodies, and what changed since
--
-- Retention: a chat can be archived (chats.archived_at, archive_chat). Lists hide archived chats unless
-- asked, and purge_archived deletes chats archived (and idle) for longer than a retention period, with
-- everything under them, in batches that keep every lock short; then sessions left with no chats
-- and no activity. Everything under a chat goes with it because every foreign key to chats and
-- sessions cascades (tests/db/retention.test.ts checks the catalog, so a table added later cannot
-- break that).

-- ============================================================================
-- Content: hash and size are the database's, never the client's
-- ============================================================================
create function private.measure_context_body() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.content_hash := encode(sha256(convert_to(new.body, 'UTF8')), 'hex');
  new.size_bytes := octet_length(convert_to(new.body, 'UTF8'));
  return new;
end;
$$;
comment on function private.measure_context_body() is
  'BEFORE INSERT or UPDATE on the context resource tables: content_hash (sha-256 hex) and size_bytes (UTF-8) of body.';

-- ============================================================================
-- session_context_resources: the live view, written by the sandbox side
-- ============================================================================
create table public.session_context_resources (
  session_id text not null references public.sessions (id) on delete cascade,
  source text not null,
  kind text not null,
  body text not null,
  content_hash text not null,
  size_bytes integer not null,
  status text not null default 'ok',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (session_id, source),
  constraint session_context_resources_source_chk check (char_length(source) between 1 and 1024),
  constraint session_context_resources_kind_chk check (kind in ('instructions', 'skill', 'file')),
  constraint session_context_resources_status_chk check (status in ('ok', 'truncated', 'error')),
  constraint session_context_resources_content_hash_chk check (content_hash ~ '^[0-9a-f]{64}$'),
  constraint session_context_resources_size_bytes_chk check (size_bytes between 0 and 2097152)
);
comment on table public.session_context_resources is
  'The live view of a session''s context resources (instruction files, skills, attached files) as the sandbox last '
  'reported them: overwritten freely, last writer wins. Written by the service role only; the owner reads it. The '
  'primary key leads with session_id, which also indexes that foreign key.';
comment on column public.session_context_resources.source is
  'Where the resource comes from, as the sandbox names it (a path such as AGENTS.md or .agents/skills/x/SKILL.md).';
comment on column public.session_context_resources.kind is 'instructions, skill or file.';
comment on column public.session_context_resources.content_hash is
  'sha-256 of body (UTF-8), lower-case hex; computed by a trigger. Pins are compared with the live view by it.';
comment on column public.session_context_resources.size_bytes is
  'Length of body in UTF-8 bytes, computed by a trigger; at most 2 MiB.';
comment on column public.session_context_resources.status is
  'ok; truncated (the sandbox cut the file to fit, body is the part kept); error (it could not be read).';

-- ============================================================================
-- chat_context_resources: what a chat was started with
-- ============================================================================
create table public.chat_context_resources (
  chat_id text not null references public.chats (id) on delete cascade,
  source text not null,
  kind text not null,
  body text not null,
  content_hash text not null,
  size_bytes integer not null,
  status text not null default 'ok',
  pinned_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (chat_id, source),
  constraint chat_context_resources_source_chk check (char_length(source) between 1 and 1024),
  constraint chat_context_resources_kind_chk check (kind in ('instructions', 'skill', 'file')),
  constraint chat_context_resources_status_chk check (status in ('ok', 'truncated', 'error')),
  constraint chat_context_resources_content_hash_chk check (content_hash ~ '^[0-9a-f]{64}$'),
  constraint chat_context_resources_size_bytes_chk check (size_bytes between 0 and 2097152)
);
comment on table public.chat_context_resources is
  'A chat''s pinned copy of its session''s context resources: what the model sees in this chat, stable across '
  'reloads however the live view changes. No foreign key to session_context_resources on purpose: a pin outlives '
  'the resource it copied. The primary key leads with chat_id, which also indexes that foreign key.';
comment on column public.chat_context_resources.pinned_at is
  'When the chat took this content: set when the source is first pinned and whenever a refresh copies new content.';

create trigger session_context_resources_measure before insert or update on public.session_context_resources
  for each row execute function private.measure_context_body();
create trigger chat_context_resources_measure before insert or update on public.chat_context_resources
  for each row execute function private.measure_context_body();
create trigger session_context_resources_set_updated_at before update on public.session_context_resources
  for each row execute function private.set_updated_at();
create trigger chat_context_resources_set_updated_at before update on public.chat_context_resources
  for each row execute function private.set_updated_at();

-- ============================================================================
-- Who may touch context resources
-- ============================================================================
-- Owners read both tables through their session or chat (the ownership rule, as every other
-- policy). Only the service role (which bypasses RLS) writes the live view: users have no write
-- policy there. Pins are written by pin_context as its caller, so owners need write policies on
-- them; the insert and update checks admit only an exact copy of the session's live resource (same
-- source, kind, status and content hash), so a user can pin what the sandbox reported and nothing
-- else. Unpinning is the owner's choice.
alter table public.session_context_resources enable row level security;
alter table public.chat_context_resources enable row level security;

create policy "Users see the live context of their sessions"
  on public.session_context_resources for select to authenticated
  using (exists (select from public.sessions s where s.id = session_context_resources.session_id offset 0));

create policy "Users see the context pinned in their chats"
  on public.chat_context_resources for select to authenticated
  using (exists (select from public.chats c where c.id = chat_context_resources.chat_id offset 0));

create policy "Users pin copies of their sessions' live context"
  on public.chat_context_resources for insert to authenticated
  with check (
    exists (select from public.chats c where c.id = chat_context_resources.chat_id offset 0)
    and exists (
      select from public.session_context_resources l
        join public.chats c on c.session_id = l.session_id
       where c.id = chat_context_resources.chat_id and l.source = chat_context_resources.source
         and l.kind = chat_context_resources.kind and l.status = chat_context_resources.status
         and l.content_hash = chat_context_resources.content_hash
    )
  );

create policy "Users refresh their pins from their sessions' live context"
  on public.chat_context_resources for update to authenticated
  using (exists (select from public.chats c where c.id = chat_context_resources.chat_id offset 0))
  with check (
    exists (select from public.chats c where c.id = chat_context_resources.chat_id offset 0)
    and exists (
      select from public.session_context_resources l
        join public.chats c on c.session_id = l.session_id
       where c.id = chat_context_resources.chat_id and l.source = chat_context_resources.source
         and l.kind = chat_context_resources.kind and l.status = chat_context_resources.status
         and l.content_hash = chat_context_resources.content_hash
    )
  );

create policy "Users unpin context from their chats"
  on public.chat_context_resources for delete to authenticated
  using (exists (select from public.chats c where c.id = chat_context_resources.chat_id offset 0));

-- ============================================================================
-- push_context: the sandbox side reports its context resources (service role)
-- ============================================================================
-- Pre: the session exists; resources is a JSON array of {source, kind, body, status?}, each source
-- once, each body at most 2 MiB in UTF-8 (else PT413 and nothing is written).
-- Post: each listed resource is in the live view as sent (a resource sent unchanged is not
-- rewritten); with replace, the sources not listed are gone. Pushes to one session apply one after
-- another (a transaction-scoped advisory lock rather than the session's row lock, which chat
-- activity takes to move sessions.updated_at). Returns {session_id, added, updated, removed}.
create function public.push_context(session_id text, resources jsonb, replace boolean default false) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  oversized text;
  duplicate text;
  result jsonb;
begin
  if jsonb_typeof(resources) is distinct from 'array' then
    raise sqlstate 'PT400' using message = 'resources must be a JSON array', detail = 'invalid_request';
  end if;
  perform from public.sessions s where s.id = push_context.session_id;
  if not found then
    raise sqlstate 'PT404' using message = format('session %s not found', push_context.session_id);
  end if;

  select r ->> 'source' into oversized
    from jsonb_array_elements(resources) r
   where octet_length(convert_to(r ->> 'body', 'UTF8')) > 2097152
   limit 1;
  if found then
    raise sqlstate 'PT413' using
      message = format('resource %s is larger than 2 MiB (UTF-8): nothing was written', oversized),
      detail = 'resource_too_large';
  end if;
  select r ->> 'source' into duplicate
    from jsonb_array_elements(resources) r group by r ->> 'source' having count(*) > 1 limit 1;
  if found then
    raise sqlstate 'PT400' using message = format('source %s is listed more than once', duplicate),
      detail = 'duplicate_source';
  end if;

  perform pg_advisory_xact_lock(hashtextextended('push_context ' || push_context.session_id, 0));

  with incoming as (
    select r.source, r.kind, r.body, coalesce(r.status, 'ok') as status
      from jsonb_to_recordset(resources) as r(source text, kind text, body text, status text)
  ), earlier as (
    select l.source from public.session_context_resources l where l.session_id = push_context.session_id
  ), written as (
    insert into public.session_context_resources as l (session_id, source, kind, body, status)
    select push_context.session_id, i.source, i.kind, i.body, i.status from incoming i order by i.source
    on conflict (session_id, source) do update
      set kind = excluded.kind, body = excluded.body, status = excluded.status
      where (l.kind, l.status, l.content_hash) is distinct from (excluded.kind, excluded.status, excluded.content_hash)
    returning l.source
  ), removed as (
    delete from public.session_context_resources l
     where push_context.replace and l.session_id = push_context.session_id
       and l.source not in (select i.source from incoming i)
    returning l.source
  )
  select jsonb_build_object(
    'session_id', push_context.session_id,
    'added', coalesce((select jsonb_agg(w.source order by w.source) from written w
                        where w.source not in (select e.source from earlier e)), '[]'),
    'updated', coalesce((select jsonb_agg(w.source order by w.source) from written w
                          where w.source in (select e.source from earlier e)), '[]'),
    'removed', coalesce((select jsonb_agg(r.source order by r.source) from removed r), '[]')
  ) into result;
  return result;
end;
$$;
comment on function public.push_context(text, jsonb, boolean) is
  'Service role. Upserts a session''s live context resources ([{source, kind, body, status?}]; hash and size computed '
  'here); with replace, removes the sources not listed. A body over 2 MiB (UTF-8) is PT413 resource_too_large and '
  'nothing is written. Returns {session_id, added, updated, removed} (source names).';

-- ============================================================================
-- pin_context: a chat takes a copy of its session's live context (owner or service role)
-- ============================================================================
-- Pre: the chat exists and is the caller's (or the caller is the service role).
-- Post, without sources: the chat's pins equal the live view (new sources added, changed ones
-- updated, pins whose source left the live view removed). With sources: only those sources are
-- refreshed: each named source in the live view is pinned as it is now; a named source that left
-- the live view is unpinned; a name found in neither is ignored (so a retry is harmless); pins not
-- named stay as they are. Pins of one chat are taken one call after another (the chat's row lock).
-- Returns {chat_id, added, updated, removed} (source names).
create function public.pin_context(chat_id text, sources text[] default null) returns jsonb
language plpgsql
security invoker
set search_path = ''
set chat.transition = 'on' -- may move server-owned columns (08_hardening_and_grants.sql)
as $$
#variable_conflict use_column
declare
  chat public.chats;
  result jsonb;
begin
  select * into chat from public.chats c where c.id = pin_context.chat_id for no key update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', pin_context.chat_id);
  end if;

  with live as (
    select l.source, l.kind, l.body, l.status
      from public.session_context_resources l
     where l.session_id = chat.session_id and (pin_context.sources is null or l.source = any(pin_context.sources))
  ), earlier as (
    select p.source from public.chat_context_resources p where p.chat_id = chat.id
  ), written as (
    insert into public.chat_context_resources as p (chat_id, source, kind, body, status)
    select chat.id, l.source, l.kind, l.body, l.status from live l order by l.source
    on conflict (chat_id, source) do update
      set kind = excluded.kind, body = excluded.body, status = excluded.status, pinned_at = now()
      where (p.kind, p.status, p.content_hash) is distinct from (excluded.kind, excluded.status, excluded.content_hash)
    returning p.source
  ), removed as (
    delete from public.chat_context_resources p
     where p.chat_id = chat.id
       and (pin_context.sources is null or p.source = any(pin_context.sources))
       and p.source not in (select l.source from live l)
    returning p.source
  )
  select jsonb_build_object(
    'chat_id', chat.id,
    'added', coalesce((select jsonb_agg(w.source order by w.source) from written w
                        where w.source not in (select e.source from earlier e)), '[]'),
    'updated', coalesce((select jsonb_agg(w.source order by w.source) from written w
                          where w.source in (select e.source from earlier e)), '[]'),
    'removed', coalesce((select jsonb_agg(r.source order by r.source) from removed r), '[]')
  ) into result;
  return result;
end;
$$;
comment on function public.pin_context(text, text[]) is
  'The chat''s owner or the service role. Copies the session''s live context resources (all, or the named sources) '
  'into the chat; named sources gone from the live view are unpinned. Returns {chat_id, added, updated, removed}.';

-- ============================================================================
-- get_context: what the chat was started with, and what changed since (owner or service role)
-- ============================================================================
create function public.get_context(chat_id text) returns jsonb
language plpgsql stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  chat public.chats;
  pinned jsonb;
  changed jsonb;
begin
  select * into chat from public.chats c where c.id = get_context.chat_id;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', get_context.chat_id);
  end if;

  select coalesce(jsonb_agg(jsonb_build_object(
           'source', p.source, 'kind', p.kind, 'status', p.status, 'body', p.body,
           'content_hash', p.content_hash, 'size_bytes', p.size_bytes, 'pinned_at', p.pinned_at
         ) order by p.source), '[]')
    into pinned
    from public.chat_context_resources p
   where p.chat_id = chat.id;

  -- Only the live view's hashes are read, never its bodies.
  select jsonb_build_object(
           'updated', coalesce(jsonb_agg(p.source order by p.source) filter (
             where p.source is not null and l.source is not null
               and (p.kind, p.status, p.content_hash) is distinct from (l.kind, l.status, l.content_hash)), '[]'),
           'added', coalesce(jsonb_agg(l.source order by l.source) filter (where p.source is null), '[]'),
           'removed', coalesce(jsonb_agg(p.source order by p.source) filter (where l.source is null), '[]')
         )
    into changed
    from (select p.source, p.kind, p.status, p.content_hash
            from public.chat_context_resources p where p.chat_id = chat.id) p
    full join (select l.source, l.kind, l.status, l.content_hash
                 from public.session_context_resources l where l.session_id = chat.session_id) l
      on l.source = p.source;

  return jsonb_build_object('chat_id', chat.id, 'resources', pinned, 'changed', changed);
end;
$$;
comment on function public.get_context(text) is
  'The chat''s owner or the service role. Returns {chat_id, resources: [pins with bodies, by source], changed: '
  '{updated, added, removed}}: the live view compared with the pins by content hash, kind and status (live bodies '
  'are not sent).';

-- ============================================================================
-- Retention: archiving a chat
-- ============================================================================
-- Post: archived: archived_at is set (an archived chat keeps its first archived_at, so a retry does
-- not extend its retention); not archived: archived_at is NULL. A change takes a revision (the
-- chats trigger), so followers and other tabs see it. Returns {chat}.
create function public.archive_chat(chat_id text, archived boolean) returns jsonb
language plpgsql
security invoker
set search_path = ''
set chat.transition = 'on' -- may move server-owned columns (08_hardening_and_grants.sql)
as $$
#variable_conflict use_column
declare
  chat public.chats;
begin
  if archived is null then
    raise sqlstate 'PT400' using message = 'archived must be true or false', detail = 'invalid_request';
  end if;
  select * into chat from public.chats c where c.id = archive_chat.chat_id for update;
  if not found then
    raise sqlstate 'PT404' using message = format('chat %s not found', archive_chat.chat_id);
  end if;
  if archived <> (chat.archived_at is not null) then
    update public.chats c
       set archived_at = case when archive_chat.archived then now() end
     where c.id = chat.id
    returning * into chat;
  end if;
  return jsonb_build_object('chat', private.chat_summary(chat));
end;
$$;
comment on function public.archive_chat(text, boolean) is
  'The chat''s owner archives (archived = true) or restores a chat. Archiving an archived chat keeps its archived_at. '
  'Returns {chat}.';

-- ============================================================================
-- purge_archived: retention, in short batches (service role, or pg_cron as postgres)
-- ============================================================================
-- Pre: none. Post: at most batch_size chats archived more than older_than ago and idle as long
-- (updated_at: a message in an archived chat defers its deletion) are deleted with everything
-- under them (every foreign key to chats cascades), then at most batch_size sessions with no chats
-- and no activity for older_than (updated_at, last_activity_at, context pushes) with theirs. Rows
-- another transaction holds are skipped (SKIP LOCKED), so the purge never waits on a live chat and
-- takes it on a later call. more: another call would find work now. Returns {chats, sessions, more}.
create function public.purge_archived(
  older_than interval default '30 days',
  batch_size int default 1000
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cutoff timestamptz := now() - older_than;
  doomed_sessions text[];
  chats_deleted int;
  sessions_deleted int;
  more boolean;
begin
  if older_than is null or older_than < interval '0' then
    raise sqlstate 'PT400' using message = 'older_than must be a positive interval', detail = 'invalid_request';
  end if;
  if batch_size is null or batch_size not between 1 and 10000 then
    raise sqlstate 'PT400' using message = format('batch_size must be between 1 and 10000, not %s', batch_size),
      detail = 'invalid_limit';
  end if;

  with doomed as (
    select c.id from public.chats c
     where c.archived_at < cutoff and c.updated_at < cutoff
     order by c.archived_at, c.id
     limit batch_size
     for update skip locked
  )
  delete from public.chats c using doomed where c.id = doomed.id;
  get diagnostics chats_deleted = row_count;

  -- Lock first, then check for chats in a later statement (a fresh snapshot): while the session is
  -- locked no chat can be created in it, and one created just before is seen.
  select array_agg(s.id) into doomed_sessions
    from (
      select s.id from public.sessions s
       where greatest(s.updated_at, s.last_activity_at) < cutoff
         and not exists (select from public.chats c where c.session_id = s.id)
         and not exists (
           select from public.session_context_resources r where r.session_id = s.id and r.updated_at >= cutoff
         )
       order by s.updated_at, s.id
       limit batch_size
       for update of s skip locked
    ) s;
  delete from public.sessions s
   where s.id = any(doomed_sessions) and not exists (select from public.chats c where c.session_id = s.id);
  get diagnostics sessions_deleted = row_count;

  -- More work now: this call deleted something and an eligible row no one holds remains (a row held
  -- elsewhere is left for a later run, so a loop over this function always ends).
  more := chats_deleted + sessions_deleted > 0 and (
    exists (
      select from (
        select from public.chats c where c.archived_at < cutoff and c.updated_at < cutoff limit 1 for update skip locked
      ) chat
    )
    or exists (
      select from (
        select from public.sessions s
         where greatest(s.updated_at, s.last_activity_at) < cutoff
           and not exists (select from public.chats c where c.session_id = s.id)
           and not exists (
             select from public.session_context_resources r where r.session_id = s.id and r.updated_at >= cutoff
           )
         limit 1
         for update of s skip locked
      ) session
    )
  );
  return jsonb_build_object('chats', chats_deleted, 'sessions', sessions_deleted, 'more', more);
end;
$$;
comment on function public.purge_archived(interval, int) is
  'Service role (or pg_cron). Deletes at most batch_size chats archived and idle for longer than older_than (default '
  '30 days) with all their rows, then at most batch_size sessions with no chats and no activity for as long. Skips '
  'rows others hold. Returns {chats, sessions, more}; call again while more is true, each call its own transaction.';

-- ============================================================================
-- Who may call what
-- ============================================================================
revoke execute on function
  public.push_context(text, jsonb, boolean),
  public.pin_context(text, text[]),
  public.get_context(text),
  public.archive_chat(text, boolean),
  public.purge_archived(interval, int)
  from public, anon;
revoke execute on function
  public.push_context(text, jsonb, boolean),
  public.purge_archived(interval, int)
  from authenticated;
revoke execute on function private.measure_context_body() from public;
