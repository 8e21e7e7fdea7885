// What a POST to the chat endpoint asks for, done: DefaultChatTransport's four requests (chatRequest
// in schemas/streams.ts) mapped to the operations, and which stream answers each (reply-stream.ts).
import type { Json } from "../../types/database.ts";
import type { Caller } from "./auth.ts";
import { rpc } from "./db.ts";
import { HttpError } from "./http.ts";
import type { Reply } from "./reply-stream.ts";
import type {
  AppendMessageResponse,
  ChatRequest,
  ChatSummary,
  EditMessageResponse,
  RegenerateResponse,
  UIMessage,
} from "./schemas/mod.ts";

/** Does what the request asks (chatRequest's four cases) and says which stream is its reply. */
export async function submitted(caller: Caller, body: ChatRequest): Promise<Reply> {
  const chatId = body.id;
  const message = body.messages.at(-1) as UIMessage;
  // A retried regenerate or approval found nothing to do: the reply is whatever is in flight.
  const anyReply = { opensAfter: -1 };
  if (body.trigger === "regenerate-message") {
    const { json } = await rpc(caller, "regenerate", { chat_id: chatId, message_id: body.messageId });
    const answer = JSON.parse(json) as RegenerateResponse;
    return answer.regenerated ? { opensAfter: answer.chat.revision } : anyReply;
  }
  if (message.role === "assistant") {
    const { json } = await rpc(caller, "answer_approvals", { chat_id: chatId, message: message as Json });
    const answer = JSON.parse(json) as { chat: ChatSummary; answered: number };
    return answer.answered > 0 ? { opensAfter: answer.chat.revision } : anyReply;
  }
  if (body.messageId === message.id) {
    try {
      const { json } = await rpc(caller, "edit_message", { chat_id: chatId, message: message as Json });
      return { opensAfter: (JSON.parse(json) as EditMessageResponse).message.revision };
    } catch (error) {
      // Not sent before: a client that names the message it sends. Append it.
      if (!(error instanceof HttpError && error.code === "message_not_found")) throw error;
    }
  }
  const { json } = await rpc(caller, "append_message", {
    chat_id: chatId,
    message: message as Json,
    interrupt: body.interrupt,
  });
  const appended = JSON.parse(json) as AppendMessageResponse;
  // A message in the history: its reply is the first stream opened after it. A queued one: after
  // the revision it takes when its turn starts (the follower sees it enter the history).
  return "queued" in appended ? { userMessageId: message.id } : { opensAfter: appended.message.revision };
}
