-- Clients follow a conversation live through Supabase Realtime (Postgres Changes): a chat's new and
-- rewritten messages (the agent rewrites its message once per step), and the chat's own changes
-- (title, the streaming lease, last assistant message time). Realtime delivers a change only to
-- subscribers whose RLS select policy admits the row, so each user hears only their own chats.
alter publication supabase_realtime add table public.chats, public.chat_messages;
