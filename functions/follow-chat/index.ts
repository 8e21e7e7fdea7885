// GET /functions/v1/follow-chat?chat_id=&after=<revision>   (or the Last-Event-ID header, which wins)
// A text/event-stream of the chat's changes: every message changed after the cursor, then the chat,
// then each new change as it commits, until FOLLOW_MAX_SECONDS. The format and the resume rule are
// in functions/_shared/follow-stream.ts and the README. Errors before the stream starts (401, 404,
// 400 cursor_ahead) are JSON like every other function's.
import { ChatFeed, readChanges } from "../_shared/chat-feed.ts";
import { config } from "../_shared/config.ts";
import { followStream, lastEventId, subscribeBuffered } from "../_shared/follow-stream.ts";
import { operation } from "../_shared/operation.ts";
import { followChatQuery } from "../_shared/schemas.ts";

const feed = new ChatFeed(config.followListenUrl);

Deno.serve(operation({
  name: "follow-chat",
  method: "GET",
  query: followChatQuery,
  acceptsAccessToken: true,
  async run(query, caller, request) {
    const cursor = lastEventId(request) ?? query.after ?? null;
    const { subscription, queue, onBatch } = subscribeBuffered(feed, query.chat_id);
    await subscription.registered;
    const firstPage = await readChanges(caller, query.chat_id, cursor).catch((error) => {
      subscription.unsubscribe();
      throw error;
    });
    const stream = followStream({
      caller,
      chatId: query.chat_id,
      feed,
      firstPage,
      cursor,
      maxSeconds: config.followMaxSeconds,
      subscription,
      queue,
      onBatch,
    });
    return new Response(stream, {
      headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no" },
    });
  },
}));
