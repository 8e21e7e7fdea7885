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
import { ChatFeed } from "../_shared/chat-feed.ts";
import { fromNow, noChunk } from "../_shared/chat-events.ts";
import { openFollower } from "../_shared/chat-follower.ts";
import { config } from "../_shared/config.ts";
import { byMethod, operation } from "../_shared/operation.ts";
import { replyStream, uiMessageStreamHeaders } from "../_shared/reply-stream.ts";
import { chatRequest, chatStreamPath, chatStreamQuery } from "../_shared/schemas/mod.ts";
import { submitted } from "../_shared/chat-submit.ts";

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
