// The endpoint the AI SDK's useChat talks to, unmodified (DefaultChatTransport({ api: <functions>/chat })).
// POST /functions/v1/chat { id, messages, trigger, messageId? }: appends the last message (a user
//   message; idempotent by id, queued while the agent is busy), or edits it (messageId names it),
//   records the tool approvals answered in it (the agent's message posted back), or regenerates
//   (trigger regenerate-message); then answers with the UI message stream of the assistant's reply as
//   the worker produces it, from its start chunk.
// GET /functions/v1/chat/<chat_id>/stream (useChat's resume): 204 when no turn is in flight; else
//   the reply being generated, replayed from its start chunk, then live until it ends.
// Both end with the reply, or after FOLLOW_MAX_SECONDS (the client then reconnects with GET). Errors
// before the stream starts are the JSON error contract (401, 400, 404 for another account's chat).
import type { Json } from "../../types/database.ts";
import type { Caller } from "../_shared/auth.ts";
import { ChatFeed } from "../_shared/chat-feed.ts";
import { fromNow, noChunk } from "../_shared/chat-events.ts";
import { openFollower } from "../_shared/chat-follower.ts";
import { config } from "../_shared/config.ts";
import { rpc } from "../_shared/db.ts";
import { HttpError } from "../_shared/http.ts";
import { byMethod, operation } from "../_shared/operation.ts";
import { type Reply, replyStream, uiMessageStreamHeaders } from "../_shared/reply-stream.ts";
import {
  type AppendMessageResponse,
  type ChatRequest,
  chatRequest,
  chatStreamPath,
  chatStreamQuery,
  type ChatSummary,
  type EditMessageResponse,
  type RegenerateResponse,
  type UIMessage,
} from "../_shared/schemas/mod.ts";

const feed = new ChatFeed(config.followListenUrl);
const maxSeconds = config.followMaxSeconds;

const submit = operation({
  name: "chat",
  request: chatRequest,
  maxBodyBytes: 16 << 20,
  async run(body, caller) {
    const reply = await submitted(caller, body);
    // A reply known to open after a revision: follow from there; otherwise from the chat as it is now.
    const cursor = reply.opensAfter === undefined || reply.opensAfter < 0
      ? fromNow
      : { revision: reply.opensAfter, stream: reply.opensAfter, chunk: noChunk };
    const follower = await openFollower({ caller, chatId: body.id, feed, cursor });
    return new Response(replyStream({ follower, reply, maxSeconds }), { headers: uiMessageStreamHeaders });
  },
});

/** Does what the request asks (chatRequest's four cases) and says which stream is its reply. */
async function submitted(caller: Caller, body: ChatRequest): Promise<Reply> {
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

const reconnect = operation({
  name: "chat",
  method: "GET",
  query: chatStreamQuery,
  path: chatStreamPath,
  async run(query, caller) {
    // From the chat as it is now: the stream in flight, from its start chunk, or the next one.
    const cursor = fromNow;
    const follower = await openFollower({
      caller,
      chatId: query.chat_id,
      feed,
      cursor,
    });
    const { status } = follower.firstPage.chat;
    if (status === "idle" || status === "waiting" || status === "error") {
      follower.stop();
      return new Response(null, { status: 204 });
    }
    return new Response(replyStream({ follower, reply: { opensAfter: -1 }, maxSeconds }), {
      headers: uiMessageStreamHeaders,
    });
  },
});

Deno.serve(byMethod({ POST: submit, GET: reconnect }));
