-- private.is_unread in PL/pgSQL. list_sessions calls it for every chat of the page's sessions; as a
-- SQL function with a pinned search_path it is never inlined, and each call ran the SQL function
-- executor. An account with 10,000 chats in 100 sessions, list_sessions as the user, medians of 15
-- calls in 3 alternating rounds: 25.5-27.1 ms as SQL, 19.5-20.9 as PL/pgSQL.
create or replace function private.is_unread(last_assistant_message_at timestamptz, last_read_at timestamptz) returns boolean
language plpgsql immutable
set search_path = ''
as $$
begin
  return last_assistant_message_at is not null
     and (last_read_at is null or last_assistant_message_at > last_read_at);
end;
$$;
