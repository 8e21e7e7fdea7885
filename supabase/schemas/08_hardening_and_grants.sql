-- What the API roles may write directly. PostgREST lets a signed-in user insert and update any row
-- their policies admit, column by column; the operations (SQL functions, SECURITY INVOKER) write the
-- same tables as the same role. So row level security says which rows, and this file says which
-- columns:
--
-- * Updates: the columns the server keeps (a chat's status, lease and cursor, a message's position,
--   ...) change only through the operations. Column privileges cannot say this, since the operations
--   run as the caller and do write those columns, so a BEFORE UPDATE trigger on each table refuses a
--   change to its server-owned columns (named in the trigger's arguments) by the API roles, unless it
--   comes from:
--     * one of the operations, which carry `set chat.transition = 'on'` in their definition
--       (append_message, mark_read, stop_chat, pin_context, archive_chat): the setting holds while
--       the function runs, and a PostgREST client cannot set it, since every request is one
--       statement of its own;
--     * a trigger of ours (pg_trigger_depth() > 1), such as the one that gives a message its seq;
--     * a SECURITY DEFINER function, or the service role.
-- * Inserts: column privileges. An API role may insert only the columns a client chooses; the rest
--   take their defaults (and the operations insert only these).
--
-- tests/db/server-owned.test.ts lists, per table, the columns an API role may insert and update, so a
-- change cannot widen either silently. Every other grant sits with its object, in the file of its
-- domain ("Who may call what").

-- ============================================================================
-- Updates: server-owned columns
-- ============================================================================
create function private.refuse_server_owned_changes() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  server_owned text;
begin
  if current_user not in ('authenticated', 'anon')
     or pg_trigger_depth() > 1
     or current_setting('chat.transition', true) = 'on' then
    return new;
  end if;
  foreach server_owned in array tg_argv loop
    if (to_jsonb(new) -> server_owned) is distinct from (to_jsonb(old) -> server_owned) then
      raise sqlstate '42501' using
        message = format('%s.%s is kept by the server: it changes only through the API''s operations',
                         tg_table_name, server_owned);
    end if;
  end loop;
  return new;
end;
$$;
comment on function private.refuse_server_owned_changes() is
  'BEFORE UPDATE: refuses an API role''s change to the columns named in the trigger''s arguments, unless it comes from '
  'an operation (chat.transition = on), a trigger of ours, a SECURITY DEFINER function or the service role.';

-- Named so that each fires before the table's other BEFORE UPDATE triggers, which move some of these
-- columns themselves (triggers fire in name order): it judges only what the statement asked for.
create trigger sessions_0_server_owned before update on public.sessions
  for each row execute function private.refuse_server_owned_changes('id', 'account_id', 'created_at', 'updated_at');
create trigger chats_0_server_owned before update on public.chats
  for each row execute function private.refuse_server_owned_changes(
    'id', 'session_id', 'active_stream_id', 'last_assistant_message_at', 'last_message_seq', 'created_at',
    'updated_at', 'revision', 'revision_txid', 'status', 'last_error', 'runner_id', 'heartbeat_at', 'attempts',
    'status_changed_at', 'archived_at', 'history_version', 'account_id'
  );
create trigger chat_messages_0_server_owned before update on public.chat_messages
  for each row execute function private.refuse_server_owned_changes(
    'id', 'chat_id', 'role', 'seq', 'created_at', 'updated_at', 'revision', 'history_version', 'written_by'
  );
create trigger chat_reads_0_server_owned before update on public.chat_reads
  for each row execute function private.refuse_server_owned_changes('account_id', 'chat_id', 'created_at', 'updated_at');
create trigger chat_queued_messages_0_server_owned before update on public.chat_queued_messages
  for each row execute function private.refuse_server_owned_changes('id', 'chat_id', 'position', 'created_at');
create trigger chat_context_resources_0_server_owned before update on public.chat_context_resources
  for each row execute function private.refuse_server_owned_changes(
    'chat_id', 'source', 'content_hash', 'size_bytes', 'status', 'pinned_at', 'created_at', 'updated_at'
  );

revoke execute on function private.refuse_server_owned_changes() from public;

-- ============================================================================
-- Inserts: the columns a client chooses, no more
-- ============================================================================
-- Supabase grants every table to the API roles by default; these narrow INSERT to columns, for
-- authenticated only (anon has no policy anywhere). Tables users only read (runs, steps, usage,
-- budgets, live context) are bounded by their policies, which admit no write; the live streams'
-- tables by their own revoke (07_streaming.sql).
revoke insert on public.chats, public.chat_messages, public.chat_queued_messages, public.chat_reads,
  public.sessions from anon, authenticated;
grant insert (
  id, account_id, title, status, repo_owner, repo_name, branch, clone_url, is_new_branch, auto_commit_push_override,
  global_skill_refs, sandbox_state, lifecycle_state, lifecycle_version, last_activity_at, sandbox_expires_at,
  hibernate_after, lifecycle_run_id, lifecycle_error, lines_added, lines_removed, snapshot_url, snapshot_created_at,
  snapshot_size_bytes, cached_diff, cached_diff_updated_at
) on public.sessions to authenticated;
grant insert (id, session_id, title, model_id) on public.chats to authenticated;
grant insert (id, chat_id, role, parts) on public.chat_messages to authenticated;
grant insert (account_id, chat_id, last_read_at) on public.chat_reads to authenticated;
grant insert (id, chat_id, message, position) on public.chat_queued_messages to authenticated;
