// The chat's queue: the messages sent while the agent worked, in the order it will answer them
// (get-messages' `queued`, then follow-chat's `queue` events). Each can be taken back
// (delete-queued-message) or answered next (promote-queued-message).
import type { UIMessage } from "ai";
import type { Api, QueuedMessage } from "./api.ts";
import { MessageView } from "./Message.tsx";

export function QueuedMessages({ api, chatId, queued, onFailure }: {
  api: Api;
  chatId: string;
  queued: QueuedMessage[];
  onFailure: (message: string) => void;
}) {
  // The change comes back as a `queue` event, to this tab and every other.
  const call = (name: string, messageId: string) =>
    api.post(name, { chat_id: chatId, message_id: messageId }).catch((error: Error) => onFailure(error.message));
  return queued.map((row) => (
    // The row's `message` is typed as any JSON: it is the UIMessage that was sent.
    <MessageView key={row.id} message={row.message as unknown as UIMessage} queued>
      <button type="button" onClick={() => call("delete-queued-message", row.id)}>Delete</button>
      {row.position > 1
        ? <button type="button" onClick={() => call("promote-queued-message", row.id)}>Send next</button>
        : null}
    </MessageView>
  ));
}
