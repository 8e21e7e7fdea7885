-- The chat list of an account with many chats: list_chats read every chat of the account (through
-- its sessions) and sorted them to return the newest page; with 10,000 chats that is 12 ms of its
-- 16. A chat now carries its account (the session's, which never changes) and an index in list
-- order, so a page is an index scan that stops after page_size + 1 rows.

alter table public.chats add column account_id uuid;
-- The backfill is no activity: no revision, no updated_at, no hint (the chats' triggers stay out of it).
alter table public.chats disable trigger user;
update public.chats c set account_id = s.account_id from public.sessions s where s.id = c.session_id;
alter table public.chats enable trigger user;
alter table public.chats alter column account_id set not null;
alter table public.chats add constraint chats_account_id_fkey
  foreign key (account_id) references public.accounts (id) on delete cascade;
comment on column public.chats.account_id is
  'The account of the chat''s session (set on insert; a session''s account never changes): the chat list''s key.';

-- The chat list, newest activity first, per account; also the index of the account_id foreign key.
create index chats_account_id_updated_at_idx on public.chats (account_id, updated_at desc, id desc);

-- A chat's account is its session's: taken from the session as the chat is inserted.
create function private.take_session_account() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  select s.account_id into new.account_id from public.sessions s where s.id = new.session_id;
  if new.account_id is null then
    raise foreign_key_violation using
      message = format('session %s does not exist', new.session_id),
      constraint = 'chats_session_id_fkey';
  end if;
  return new;
end;
$$;
comment on function private.take_session_account() is
  'BEFORE INSERT on chats: the chat''s account_id is its session''s.';
revoke execute on function private.take_session_account() from public;
create trigger chats_take_session_account before insert on public.chats
  for each row execute function private.take_session_account();

-- Server-owned, like the session it comes from.
drop trigger chats_0_server_owned on public.chats;
create trigger chats_0_server_owned before update on public.chats
  for each row execute function private.refuse_server_owned_changes(
    'id', 'session_id', 'active_stream_id', 'last_assistant_message_at', 'last_message_seq', 'created_at',
    'updated_at', 'revision', 'revision_txid', 'status', 'last_error', 'runner_id', 'heartbeat_at', 'attempts',
    'status_changed_at', 'archived_at', 'history_version', 'account_id'
  );

create or replace function public.list_chats(
  account_id uuid default null,
  session_id text default null,
  page_size int default 50,
  page_cursor text default null,
  include_archived boolean default false
) returns jsonb
language plpgsql stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  owner uuid := private.acting_account(list_chats.account_id);
  after record;
  rows jsonb;
  more boolean;
begin
  perform private.check_page_size(page_size);
  select * into after from private.decode_cursor(page_cursor);
  -- The account's chats in list order straight from chats_account_id_updated_at_idx (or a session's
  -- from chats_session_id_updated_at_idx): page_size + 1 rows read, however many chats there are.
  with page as (
    select c as chat, row_number() over (order by c.updated_at desc, c.id desc) as n
      from public.chats c
     where c.account_id = owner
       and (list_chats.session_id is null or c.session_id = list_chats.session_id)
       and (list_chats.include_archived or c.archived_at is null)
       and (page_cursor is null or (c.updated_at, c.id) < (after.at, after.id))
     order by c.updated_at desc, c.id desc
     limit page_size + 1
  )
  select coalesce(jsonb_agg(private.chat_summary(page.chat) order by page.n) filter (where page.n <= page_size), '[]'),
         count(*) > page_size
    into rows, more
    from page;

  return jsonb_build_object(
    'chats', rows,
    'next_cursor', case when more then
      private.encode_cursor((rows -> -1 ->> 'updated_at')::timestamptz, rows -> -1 ->> 'id') end
  );
end;
$$;
