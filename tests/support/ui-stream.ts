// Reading the chat endpoint's answer as the AI SDK's client does, for the tests that play useChat.
import { readUIMessageStream, type UIMessage, type UIMessageChunk } from "ai";
import { uiMessageChunk } from "../../functions/_shared/ui-message-chunk.ts";

/**
 * Reads a UI message stream to its end: every chunk (each checked against the strict schema) and every
 * snapshot of the message it builds, added to `continues` when the reply goes on with a stored message.
 */
export async function readReply(stream: ReadableStream<UIMessageChunk>, continues?: UIMessage) {
  const chunks: UIMessageChunk[] = [];
  const checked = stream.pipeThrough(
    new TransformStream<UIMessageChunk, UIMessageChunk>({
      transform(chunk, controller) {
        // What an AI SDK 5 client would parse strictly: an unknown key or type fails the test here.
        uiMessageChunk.parse(chunk);
        chunks.push(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  const snapshots: UIMessage[] = [];
  const message = continues && structuredClone(continues);
  for await (const snapshot of readUIMessageStream({ message, stream: checked })) {
    snapshots.push(JSON.parse(JSON.stringify(snapshot)));
  }
  return { chunks, snapshots, message: snapshots.at(-1) };
}

/** A message's text parts, joined. */
export const textOf = (message: UIMessage | undefined) =>
  (message?.parts ?? []).map((part) => (part.type === "text" ? part.text : "")).join("");
