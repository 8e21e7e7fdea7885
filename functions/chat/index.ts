// The endpoint the AI SDK's useChat talks to, unmodified (DefaultChatTransport({ api: <functions>/chat })).
// POST /functions/v1/chat { id, messages, trigger: "submit-message", messageId? }: appends the last
//   message (a user message; idempotent by id, queued while the agent is busy) and answers with the
//   UI message stream of the assistant's reply as the worker produces it, from its start chunk.
// GET /functions/v1/chat/<chat_id>/stream (useChat's resume): 204 when no turn is in flight; else
//   the reply being generated, replayed from its start chunk, then live until it ends.
// Both end with the reply, or after FOLLOW_MAX_SECONDS (the client then reconnects with GET). Errors
// before the stream starts are the JSON error contract (401, 400, 404 for another account's chat).
import type { Json } from "../../types/database.ts";
import { ChatFeed } from "../_shared/chat-feed.ts";
import { fromNow, noChunk } from "../_shared/chat-events.ts";
import { openFollower } from "../_shared/chat-follower.ts";
import { config } from "../_shared/config.ts";
import { rpc } from "../_shared/db.ts";
import { HttpError } from "../_shared/http.ts";
import { byMethod, operation } from "../_shared/operation.ts";
import { type AppendMessageResponse, type UIMessage } from "../_shared/schemas/mod.ts";
import { type Reply, replyStream, uiMessageStreamHeaders } from "../_shared/reply-stream.ts";
import { chatRequest, chatStreamPath, chatStreamQuery } from "../_shared/schemas/mod.ts";

const feed = new ChatFeed(config.followListenUrl);
const maxSeconds = config.followMaxSeconds;

const submit = operation({
  name: "chat",
  request: chatRequest,
  maxBodyBytes: 16 << 20,
  async run(body, caller) {
    if (body.trigger !== "submit-message") {
      throw new HttpError(
        400,
        "unsupported_trigger",
        `trigger ${body.trigger} is not supported yet: send submit-message`,
      );
    }
    const message = body.messages.at(-1) as UIMessage;
    const { json } = await rpc(caller, "append_message", {
      chat_id: body.id,
      message: message as Json,
    });
    const appended = JSON.parse(json) as AppendMessageResponse;
    // A message in the history: its reply is the first stream opened after it. A queued one: after
    // the revision it takes when its turn starts (the follower sees it enter the history).
    const reply: Reply = "queued" in appended
      ? { userMessageId: message.id }
      : { opensAfter: appended.message.revision };
    const cursor = reply.opensAfter === undefined ? fromNow : {
      revision: reply.opensAfter,
      stream: reply.opensAfter,
      chunk: noChunk,
    };
    const follower = await openFollower({
      caller,
      chatId: body.id,
      feed,
      cursor,
    });
    return new Response(replyStream({ follower, reply, maxSeconds }), {
      headers: uiMessageStreamHeaders,
    });
  },
});

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
    if (status === "idle" || status === "error") {
      follower.stop();
      return new Response(null, { status: 204 });
    }
    return new Response(replyStream({ follower, reply: { opensAfter: -1 }, maxSeconds }), {
      headers: uiMessageStreamHeaders,
    });
  },
});

Deno.serve(byMethod({ POST: submit, GET: reconnect }));
