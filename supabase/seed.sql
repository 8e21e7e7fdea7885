-- Demo data only: one account with one session, one chat and a short exchange, so a fresh local
-- stack or preview branch has something to look at. `npm start` prints a JWT for this account.
-- Safe on an empty database and safe to run twice.

insert into public.accounts (id)
values ('d3e0d3e0-0000-4000-8000-000000000001')
on conflict do nothing;

insert into public.sessions (id, account_id, title, repo_owner, repo_name, branch, clone_url)
values (
  'demo-session', 'd3e0d3e0-0000-4000-8000-000000000001', 'Demo: make the parser stream',
  'acme', 'parser', 'main', 'https://example.com/acme/parser.git'
)
on conflict do nothing;

insert into public.chats (id, session_id, title, model_id)
values ('demo-chat', 'demo-session', 'Make the parser stream', 'demo-model')
on conflict do nothing;

-- The question is history (the chat stays idle: no worker is asked to answer it again); the answer goes
-- through append_message as the backend writes it, so the chat records when the agent last spoke and
-- shows as unread to the demo user, exactly as after a real turn.
insert into public.chat_messages (id, chat_id, role, parts)
values
  ('demo-message-1', 'demo-chat', 'user',
   '{"id": "demo-message-1", "role": "user", "parts": [{"type": "text", "text": "Make the parser stream its output."}]}')
on conflict do nothing;

select set_config('role', 'service_role', true), set_config('request.jwt.claims', '{"role": "service_role"}', true);
select public.append_message('demo-chat',
  '{"id": "demo-message-2", "role": "assistant", "parts": [{"type": "text", "text": "I will start by reading src/parser.ts."}]}');
