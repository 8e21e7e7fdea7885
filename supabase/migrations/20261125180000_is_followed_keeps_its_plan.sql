-- private.is_followed keeps its plan.
--
-- 20261125170000 wrote it in SQL. A SQL function that cannot be inlined (SECURITY DEFINER and a
-- pinned search_path both prevent it) plans its query again on every call, and every change to a
-- chat calls it once: 51 µs of the roughly 1,100 µs an append costs the database (track_functions,
-- docs/performance.md). In PL/pgSQL the plan is kept for the session. The same rule as
-- 20261125100200's ownership helpers; behaviour is unchanged (tests/db/announce-after-commit.test.ts).

create or replace function private.is_followed(chat_id text) returns boolean
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return exists (select from private.followed_chats f where f.chat_id = is_followed.chat_id and f.until > now());
end;
$$;
comment on function private.is_followed(text) is 'True while a change feed follows the chat (private.followed_chats).';
