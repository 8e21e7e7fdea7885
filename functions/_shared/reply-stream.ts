// The chat endpoint's answer: one assistant reply as the AI SDK's UI message stream, the protocol
// DefaultChatTransport reads (`x-vercel-ai-ui-message-stream: v1`, one `data: <chunk JSON>` frame per
// chunk, `data: [DONE]` at the end). Built on a chat follower (chat-follower.ts): it waits for the
// reply's stream to open, sends it from its start chunk, and ends with it.
//
// Which stream is the reply: the first one opened after a revision. For a message just sent, the
// revision its user message took (a queued message's is known once its turn starts: the follower
// sees it enter the history); for a reconnect, any stream (the follower starts at the one in
// flight). The response also ends when the chat goes idle, waiting or to error without that stream (stopped
// while pending, a failed turn, an exhausted budget: an error chunk says why), and after
// FOLLOW_MAX_SECONDS (the client resumes with GET .../stream).
import type { PlacedEvent } from "./chat-events.ts";
import type { Follower } from "./chat-follower.ts";
import { onPing } from "./follow-stream.ts";
import { closesStream } from "./ui-message-chunk.ts";

const encoder = new TextEncoder();

export const uiMessageStreamHeaders = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache",
  "X-Accel-Buffering": "no",
  "x-vercel-ai-ui-message-stream": "v1",
};

export interface Reply {
  /** The reply is the first stream opened after this revision... */
  opensAfter?: number;
  /** ...or, for a queued message, after the revision this user message takes when its turn starts. */
  userMessageId?: string;
}

export function replyStream({
  follower,
  reply,
  maxSeconds,
}: {
  follower: Follower;
  reply: Reply;
  maxSeconds: number;
}): ReadableStream<Uint8Array> {
  let opensAfter = reply.opensAfter;
  let target: number | undefined;
  let closed = false;
  let stopPing = () => {};
  let endTimer: ReturnType<typeof setTimeout> | undefined;
  const cleanup = () => {
    closed = true;
    stopPing();
    clearTimeout(endTimer);
    follower.stop();
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => !closed && controller.enqueue(encoder.encode(text));
      const end = (done: boolean) => {
        if (closed) return;
        if (done) send("data: [DONE]\n\n");
        cleanup();
        controller.close();
      };

      const onEvent = (event: PlacedEvent) => {
        if (event.kind === "message") {
          if (event.data.id === reply.userMessageId) {
            opensAfter = event.revision;
          }
        } else if (event.kind === "chunk") {
          if (target === undefined && opensAfter !== undefined && event.stream > opensAfter && event.index === 0) {
            target = event.stream;
          }
          if (event.stream !== target) return;
          send(`data: ${JSON.stringify(event.chunk)}\n\n`);
          if (closesStream(event.chunk)) end(true);
        } else if (event.kind === "chat" && ["idle", "waiting", "error"].includes(event.data.status)) {
          // The turn is over. Its stream, if it had one, was closed before this event (end_turn).
          if (target === undefined && event.data.status === "error") {
            const errorText = `the agent did not answer: ${event.data.last_error ?? "the turn failed"}`;
            send(`data: ${JSON.stringify({ type: "error", errorText })}\n\n`);
          }
          if (target === undefined && opensAfter !== undefined) end(true);
        }
      };

      stopPing = onPing(() => send(": keep-alive\n\n"));
      endTimer = setTimeout(() => end(false), maxSeconds * 1000);
      follower.start(onEvent, (reason) => {
        const errorText = reason === "gone" ? "the chat is gone" : "the stream could not be read; reconnect";
        send(`data: ${JSON.stringify({ type: "error", errorText })}\n\n`);
        end(false);
      });
    },
    cancel() {
      cleanup();
    },
  });
}
