-- Comments that say what holds now. Moving the schema into supabase/schemas (one file per domain, the
-- current definition of every object) showed comments written for an earlier version of their object:
-- append_message's described its first version, the hints' did not know the live streams, the chats'
-- status and error did not know budgets. Comments only: nothing else changes.

comment on function public.append_message(text, jsonb, text) is
  'Appends a UIMessage to a chat as its owner (or the service role). A user message is written once (a retry returns it '
  'with created false; an id another chat or role uses is PT409), is refused over the account''s budget (PT402 '
  'budget_exceeded), titles a chat still called New chat, and makes an idle, error or pending chat pending; to a '
  'running or stopping chat it waits in the queue ({queued, position}; PT429 queue_full past 20). An assistant '
  'message is replaced in place, keeping its seq (an unchanged rewrite writes nothing), and sets '
  'last_assistant_message_at; the backend''s into a chat a runner holds must name that runner. runner_id, when given, '
  'must hold the chat (PT409 not_held). Returns {message, created}, the message as reads show it, or {queued, '
  'position, message, created}.';

comment on function private.notify_chat_change() is
  'AFTER UPDATE on chats: for every new revision of a followed chat, pg_notify(''chat_changes'', '
  'private.change_hint(...)): {chat_id, revision}, plus {stream, chunks} while it has a live stream; at commit, or '
  'after it through private.send_announcements() when the transaction set chat.announce = after_commit.';

comment on function private.send_announcements() is
  'Sends what this session''s committed transactions deferred with chat.announce = after_commit: chat_changes for '
  'the chats still followed, chat_work for the chats still pending. Call it in its own transaction right after the '
  'commit; it turns off synchronous_commit for that transaction (a hint lost in a crash is caught by the followers'' '
  'and workers'' polls).';

comment on function public.chat_revisions(text[]) is
  'The current revision of each named chat the caller can see, as {chat_id: revision}. The follow process polls '
  'chat_positions, which adds the live streams; this one stays for LISTENers of one''s own.';

comment on function private.set_updated_at() is
  'BEFORE UPDATE: sets updated_at to now(). Shared by every table with an updated_at column but chats, whose '
  'private.track_chat_change moves it only for real activity.';

comment on column public.chats.last_assistant_message_at is
  'When the agent last wrote to this chat (an assistant message added or rewritten); compared with '
  'chat_reads.last_read_at for the unread flag.';

comment on column public.chats.status is
  'Where the agent is with this chat: idle (nothing to do), pending (waiting for a worker), running (a worker holds '
  'it), stopping (the user asked to stop; the worker must end the turn) or error (the last turn failed, or a claim '
  'found the account over its budget: last_error says which).';

comment on column public.chats.last_error is
  'Why the chat is in error: ''turn failed'', ''lease expired'' (claimed three times without a finished turn) or '
  '''budget_exceeded''; NULL after a good turn.';

comment on column public.chats.revision is
  'Per-chat change counter: the revision of the chat''s latest change a follower must see. Followers resume from it '
  '(follow-chat''s event ids: <revision>, or <revision>.<stream>.<chunk> while a stream is live).';

comment on table public.workflow_run_steps is
  'One step (one model call and its tool calls) of a workflow run: its timing, finish reason, model and usage '
  '(tokens, tool calls, cost). Written once: a step is never updated, so the table has no updated_at.';

comment on function public.list_sessions(uuid, int, text) is
  'The caller''s sessions (the service role names account_id), updated_at desc then id desc, page_size 1..200 '
  'with a keyset page_cursor; each with chat_count, has_unread and has_streaming over its chats that are not '
  'archived. Returns {sessions, next_cursor}.';

comment on function public.log_workflow_step(text, text, timestamptz, text, jsonb, text, timestamptz, text) is
  'Service role only. Creates the run when started_at is given (a run that does not exist without it is PT400 '
  'unknown_run), records steps (duration computed here; a step already recorded is reported with recorded = false; '
  'into a chat a runner holds only when runner_id names it), and closes the run when finish_status is given, ending '
  'its chat''s turn if the run holds the chat. A finished run never runs again; finishing with a different status is '
  'PT409; finishing before the start is PT400.';

comment on table public.chat_streams is
  'The live stream of an assistant message while it is generated: its chunks are in chat_stream_chunks, numbered '
  'from 0 (the start chunk). Written by append_chunks (the worker holding the chat) and private.close_streams (the '
  'closing chunks when a turn ends); recover_stale_chats deletes it stream_keep after it closed. Unlogged: a '
  'database crash loses live views, never a persisted message.';

comment on schema private is
  'What the API does not expose: helpers for triggers, policies and the operations, and tables of the server''s own '
  '(private.followed_chats).';

comment on column public.sessions.is_new_branch is
  'True when the agent created a branch for this session rather than checking out an existing one.';
