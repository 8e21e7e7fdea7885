// One chat. It opens on its last page (get-messages), then follows the chat (follow-chat) from that
// page's revision, with client/follow-chat.ts keeping what it receives: the stored messages, whoever
// wrote them, every reply as it streams (one in flight when the page opens, another tab's, a queued
// message's turn, an answer going on after an approval given elsewhere), the cuts of an edit or a
// regenerate, and the queue. useChat does what this tab asks through the `chat` endpoint (send, edit,
// regenerate, answer an approval) and streams that reply token by token.
import { Chat, useChat } from "@ai-sdk/react";
import { DefaultChatTransport, lastAssistantMessageIsCompleteWithApprovalResponses } from "ai";
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { ChatView as FollowedChat, type FollowEvent } from "../../../client/follow-chat.ts";
import type { Api, ChatSummary } from "./api.ts";
import { StatusBadge } from "./ChatList.tsx";
import { Composer } from "./Composer.tsx";
import { useFollowChat } from "./follow.ts";
import { MessageView } from "./Message.tsx";
import { openingMessages, type Page, withFollowed } from "./messages.ts";
import { QueuedMessages } from "./Queue.tsx";
import { Usage } from "./Usage.tsx";

const PAGE_SIZE = 30;

/**
 * The agent has a turn under way, or about to start: a message sent now waits in the queue. Not
 * 'waiting' (for the user's approval): a message sent then denies the open approvals and is answered.
 */
const working = (status: string) => status === "pending" || status === "running" || status === "stopping";

export function ChatView({ api, chatId, onChat }: {
  api: Api;
  chatId: string;
  onChat: (chat: ChatSummary) => void;
}) {
  const [page, setPage] = useState<Page | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    api.get<Page>("get-messages", { chat_id: chatId, limit: PAGE_SIZE }).then(
      setPage,
      (error: Error) => setFailure(error.message),
    );
  }, [api, chatId]);
  if (failure) return <p role="alert">{failure}</p>;
  if (!page) return <p className="notice">Loading…</p>;
  return <OpenChat api={api} page={page} onChat={onChat} />;
}

function OpenChat({ api, page, onChat }: { api: Api; page: Page; onChat: (chat: ChatSummary) => void }) {
  const chatId = page.chat.id;
  const [opening] = useState(() => openingMessages(page));
  const [followed] = useState(() => {
    const view = new FollowedChat();
    for (const row of opening) view.apply({ event: "message", data: row });
    return view;
  });
  const [chat] = useState(() =>
    new Chat({
      id: chatId,
      messages: opening.map((row) => row.message),
      transport: new DefaultChatTransport({
        api: `${api.functionsUrl}/chat`,
        headers: () => ({ Authorization: `Bearer ${api.token()}` }),
      }),
      // An approval answered (addToolApprovalResponse) posts the agent's message back: it goes on.
      sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
    })
  );
  const { messages, status, error } = useChat({ chat });

  const [state, setState] = useState(page.chat);
  const stateRef = useRef(page.chat);
  const [hasEarlier, setHasEarlier] = useState(page.has_more);
  /** Where the messages loaded so far begin: "Load earlier messages" pages back from there. */
  const firstSeq = useRef(Math.min(...page.messages.map((row) => row.seq)));
  const [queued, setQueued] = useState(page.queued);
  const [failure, setFailure] = useState<string | null>(null);

  /** Every message id the follower has listed (messages.ts, withFollowed). */
  const listed = useRef(new Set(opening.map((row) => row.id)));
  const refreshes = useRef(0);
  /** Shows the follower's messages; the reply this tab is streaming stays useChat's until its stream ends. */
  const showFollowed = async () => {
    const refresh = ++refreshes.current;
    const list = await followed.messages();
    if (refresh !== refreshes.current) return; // a newer one is on its way
    for (const message of list) listed.current.add(message.id);
    const streamingId = chat.status === "streaming" ? chat.lastMessage?.id : undefined;
    chat.messages = withFollowed(chat.messages, list, { streamingId, listed: listed.current });
  };
  useEffect(() => {
    if (status === "ready" || status === "error") void showFollowed();
  }, [status]);

  useFollowChat(api, chatId, page.chat.revision, (event: FollowEvent) => {
    try {
      followed.apply(event);
    } catch (error) {
      setFailure((error as Error).message);
      return;
    }
    if (event.event === "chat") {
      stateRef.current = event.data;
      setState(event.data);
      onChat(event.data);
    } else if (event.event === "queue") {
      setQueued(event.data.queued);
    } else {
      void showFollowed();
    }
  });

  // Open means read: the unread badge goes, here and (at their next poll) in other tabs' lists.
  useEffect(() => {
    if (state.has_unread) {
      api.post("mark-read", { chat_id: chatId }).catch((error: Error) => setFailure(error.message));
    }
  }, [api, chatId, state.has_unread, state.revision]);

  const thisTabBusy = () => chat.status === "submitted" || chat.status === "streaming";

  async function send(text: string) {
    setFailure(null);
    if (!working(stateRef.current.status) && !thisTabBusy()) {
      await chat.sendMessage({ text });
      return;
    }
    // The agent is busy: the message waits in the chat's queue (follow-chat's `queue` events show it)
    // and enters the history when the turn ends; the next turn answers it.
    const message = { id: crypto.randomUUID(), role: "user", parts: [{ type: "text", text }] };
    await api.post("append-message", { chat_id: chatId, message }).catch((error: Error) => setFailure(error.message));
  }

  /** An edit cuts what came after the message and the agent answers again (useChat's sendMessage with messageId). */
  async function edit(messageId: string, text: string) {
    setFailure(null);
    // The edit ends the turn in flight: stop listening to its reply first.
    if (thisTabBusy()) await chat.stop();
    await chat.sendMessage({ text, messageId });
  }

  /** Another answer in place of this one (useChat's regenerate: trigger regenerate-message). */
  async function regenerate(messageId: string) {
    setFailure(null);
    await chat.regenerate({ messageId });
  }

  /** Approves or denies a tool call; the agent's message is posted back and the agent goes on with it. */
  async function answerApproval(approvalId: string, approved: boolean, reason?: string) {
    setFailure(null);
    await chat.addToolApprovalResponse({ id: approvalId, approved, reason });
  }

  /**
   * Asks the agent to stop (stop-chat). The reply's stream then ends with the agent's `abort`, so this
   * tab and every other keep the same partial answer, the one the agent stores.
   */
  async function stopAgent() {
    await api.post("stop-chat", { chat_id: chatId }).catch((error: Error) => setFailure(error.message));
  }

  async function loadEarlier() {
    try {
      const earlier = await api.get<Page>("get-messages", {
        chat_id: chatId,
        before_seq: firstSeq.current,
        limit: PAGE_SIZE,
      });
      for (const row of earlier.messages) followed.apply({ event: "message", data: row });
      firstSeq.current = Math.min(firstSeq.current, ...earlier.messages.map((row) => row.seq));
      setHasEarlier(earlier.has_more);
      await showFollowed();
    } catch (error) {
      setFailure((error as Error).message);
    }
  }

  // Keep the newest message in view while the reader is at the bottom.
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    if (atBottom.current) scroller.current?.scrollTo({ top: scroller.current.scrollHeight });
  }, [messages, queued]);

  const busy = working(state.status) || status === "submitted" || status === "streaming";
  // The last message, when it is a finished answer (one waiting for an approval is not: answer that first).
  const last = messages.at(-1);
  const regenerable = !busy && state.status !== "waiting" && last?.role === "assistant" ? last : undefined;
  return (
    <>
      <header className="chat-header">
        <h2>{state.title}</h2>
        <span data-chat-status={state.status}>
          {state.status === "idle" ? <span className="badge">idle</span> : <StatusBadge status={state.status} />}
        </span>
        <Usage usage={state.usage} />
        {busy ? <button type="button" onClick={stopAgent}>Stop</button> : null}
      </header>
      <div
        className="messages"
        ref={scroller}
        onScroll={(event) => {
          const { scrollTop, scrollHeight, clientHeight } = event.currentTarget;
          atBottom.current = scrollHeight - scrollTop - clientHeight < 40;
        }}
      >
        {hasEarlier ? <button type="button" onClick={loadEarlier}>Load earlier messages</button> : null}
        {messages.map((message) => (
          <MessageView
            key={message.id}
            message={message}
            onEdit={message.role === "user" ? (text) => void edit(message.id, text) : undefined}
            onRegenerate={message === regenerable ? () => void regenerate(message.id) : undefined}
            onApproval={(approvalId, approved, reason) => void answerApproval(approvalId, approved, reason)}
          />
        ))}
        <QueuedMessages api={api} chatId={chatId} queued={queued} onFailure={setFailure} />
        {state.status === "error" && state.last_error ? <p role="alert">The agent failed: {state.last_error}</p> : null}
        {error ? <p role="alert">{error.message}</p> : null}
        {failure ? <p role="alert">{failure}</p> : null}
      </div>
      <Composer onSend={(text) => void send(text)} />
    </>
  );
}
