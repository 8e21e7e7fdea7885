// GET /functions/v1/follow-chat?chat_id=&after=<cursor>   (or the Last-Event-ID header, which wins)
// A text/event-stream of the chat's changes: every message changed after the cursor, then the chat,
// the chunks of the assistant message being generated, then each new change as it commits, until
// FOLLOW_MAX_SECONDS. The format and the resume rule are in functions/_shared/follow-stream.ts and
// the README. Errors before the stream starts (401, 404, 400 cursor_ahead) are JSON like every other
// function's.
import { ChatFeed } from "../_shared/chat-feed.ts";
import { openFollower } from "../_shared/chat-follower.ts";
import { config } from "../_shared/config.ts";
import { followStream, resumeCursor } from "../_shared/follow-stream.ts";
import { operation } from "../_shared/operation.ts";
import { followChatQuery } from "../_shared/schemas/mod.ts";

const feed = new ChatFeed(config.followListenUrl);

Deno.serve(
  operation({
    name: "follow-chat",
    method: "GET",
    query: followChatQuery,
    acceptsAccessToken: true,
    async run(query, caller, request) {
      const cursor = resumeCursor(request, query.after);
      const follower = await openFollower({
        caller,
        chatId: query.chat_id,
        feed,
        cursor,
      });
      return new Response(followStream({ follower, maxSeconds: config.followMaxSeconds }), {
        headers: {
          "Content-Type": "text/event-stream",
          "Cache-Control": "no-cache",
          "X-Accel-Buffering": "no",
        },
      });
    },
  }),
);
