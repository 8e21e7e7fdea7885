// One list of messages from two sources: the follower's (get-messages' page, then follow-chat: every
// stored message, whoever wrote it, and every reply as it streams) and useChat's (what this tab sends,
// and the reply it streams).
import type { UIMessage } from "ai";
import type { GetMessagesResponse, StoredMessage } from "./api.ts";

export type Page = Omit<GetMessagesResponse, "messages"> & { messages: StoredMessage[] };

/**
 * The stored messages a chat opens on, with the reply in flight (get-messages' `in_flight`) as it was
 * when its stream opened: the message it continues after a tool approval, or nothing for a new reply.
 * follow-chat sends that stream again from its start chunk, so the reply shows once and grows from
 * there, instead of showing what was stored after its last step and then those steps again.
 */
export function openingMessages(page: Page): StoredMessage[] {
  const inFlight = page.in_flight;
  if (!inFlight) return page.messages;
  return page.messages.flatMap((row) => {
    if (row.id !== inFlight.message_id) return [row];
    return inFlight.continues ? [{ ...row, message: inFlight.continues as UIMessage }] : [];
  });
}

/**
 * The follower's messages in their order, each in place of useChat's copy with the same id, except
 * the reply this tab is streaming (`streamingId`): useChat's live version of it is shown until its
 * stream ends. useChat's messages the follower has never listed (`listed`: a message being sent, a
 * reply not yet streamed) come after them; one it listed and no longer lists was cut by an edit or a
 * regenerate, and goes.
 */
export function withFollowed(
  current: UIMessage[],
  followed: UIMessage[],
  { streamingId, listed }: { streamingId?: string; listed: Set<string> },
): UIMessage[] {
  const live = new Map(current.map((message) => [message.id, message]));
  const followedIds = new Set(followed.map((message) => message.id));
  return [
    ...followed.map((message) => (message.id === streamingId && live.get(message.id)) || message),
    ...current.filter((message) => !followedIds.has(message.id) && !listed.has(message.id)),
  ];
}
