-- The queued messages' policy joins the one ownership rule (20261125100200): a queued message is its
-- owner's when its chat is, read through private.owned_chat_ids() like the messages of the history.
-- Same rows visible and writable as before; only the expression changes.
alter policy "Users manage the queued messages of their chats" on public.chat_queued_messages
  using (chat_id in (select private.owned_chat_ids()))
  with check (chat_id in (select private.owned_chat_ids()));
