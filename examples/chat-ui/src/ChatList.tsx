// The chat list: the user's chats across their sessions, newest activity first (list-chats), each under
// its session's title (list-sessions), with an unread badge and the agent's status. It polls every
// POLL_MS; the open chat's own changes arrive sooner, from its follow-chat stream (ChatView's onChat).
import { useCallback, useEffect, useState } from "react";
import type { Api, ChatSummary, ListChatsResponse, ListSessionsResponse } from "./api.ts";

const POLL_MS = 2000;

/** The statuses worth a badge; idle needs none. 'waiting' is a chat waiting for the user's approval. */
const statusLabels: Record<string, string> = {
  pending: "pending",
  running: "running",
  stopping: "stopping",
  waiting: "waiting for approval",
  error: "error",
};

export function StatusBadge({ status }: { status: string }) {
  if (status === "idle") return null;
  return <span className={`badge ${status}`} data-status={status}>{statusLabels[status] ?? status}</span>;
}

const newestFirst = (a: ChatSummary, b: ChatSummary) =>
  b.updated_at.localeCompare(a.updated_at) || b.id.localeCompare(a.id);

export function useChatList(api: Api) {
  const [chats, setChats] = useState<ChatSummary[]>([]);
  const [sessionTitles, setSessionTitles] = useState(new Map<string, string>());
  const [failure, setFailure] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const [list, sessions] = await Promise.all([
        api.get<ListChatsResponse>("list-chats", { limit: 100 }),
        api.get<ListSessionsResponse>("list-sessions", { limit: 100 }),
      ]);
      setChats(list.chats);
      setSessionTitles(new Map(sessions.sessions.map((session) => [session.id, session.title])));
      setFailure(null);
    } catch (error) {
      setFailure((error as Error).message);
    }
  }, [api]);

  useEffect(() => {
    void refresh();
    const timer = setInterval(refresh, POLL_MS);
    return () => clearInterval(timer);
  }, [refresh]);

  /** A chat as a follow-chat `chat` event describes it: the same shape as list-chats' rows. */
  const update = useCallback((chat: ChatSummary) => {
    setChats((chats) => [chat, ...chats.filter((other) => other.id !== chat.id)].sort(newestFirst));
  }, []);

  return { chats, sessionTitles, failure, refresh, update };
}

export function ChatList({ list, openId, onOpen }: {
  list: ReturnType<typeof useChatList>;
  openId: string | null;
  onOpen: (chatId: string) => void;
}) {
  return (
    <>
      {list.failure ? <p role="alert">{list.failure}</p> : null}
      <ul className="chat-list" aria-label="Chats">
        {list.chats.map((chat) => (
          <li key={chat.id} data-chat-id={chat.id}>
            <button type="button" aria-current={chat.id === openId} onClick={() => onOpen(chat.id)}>
              <span className="title">{chat.title}</span>
              {chat.has_unread ? <span className="badge unread">unread</span> : null}
              <StatusBadge status={chat.status} />
              <div className="session">{list.sessionTitles.get(chat.session_id) ?? chat.session_id}</div>
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}
