-- The chat as the API shows it, with what both earlier migrations of this day added to it: `usage`
-- (20261125130000_usage_and_budgets) and `archived_at` (20261125140000_context_and_retention). The two
-- were written side by side and each replaced private.chat_summary, so the later one left the other's
-- field out; from here on this is the chat's one shape (functions/_shared/schemas.ts: chatSummary).

create or replace function private.chat_summary(chat public.chats) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', chat.id,
    'session_id', chat.session_id,
    'title', chat.title,
    'model_id', chat.model_id,
    'status', chat.status,
    'last_error', chat.last_error,
    'status_changed_at', chat.status_changed_at,
    'active_stream_id', chat.active_stream_id,
    'revision', chat.revision,
    'last_message_seq', chat.last_message_seq,
    'last_assistant_message_at', chat.last_assistant_message_at,
    'last_read_at', marker.last_read_at,
    'has_unread', private.is_unread(chat.last_assistant_message_at, marker.last_read_at),
    'usage', used.totals,
    'archived_at', chat.archived_at,
    'created_at', chat.created_at,
    'updated_at', chat.updated_at
  )
  from (select) one
  left join lateral (
    select r.last_read_at
      from public.chat_reads r
      join public.sessions s on s.account_id = r.account_id
     where r.chat_id = chat.id and s.id = chat.session_id
  ) marker on true
  left join lateral (
    select to_jsonb(u) - array['chat_id', 'account_id', 'created_at'] as totals
      from public.chat_usage u
     where u.chat_id = chat.id
  ) used on true
$$;
comment on function private.chat_summary(public.chats) is
  'The chat as the read API returns it: its visible state, run state, revision, the owner''s read marker, '
  'has_unread, usage (the chat''s totals, NULL before its first recorded step) and archived_at (NULL unless archived).';
