// One way to turn a message's UI message stream back into the message, used by the worker (to persist
// what followers saw) and by followers (to show a reply while it streams): both ends rebuild the same
// chunks with the same SDK code, so the live and the stored version of a reply cannot drift apart.
import { readUIMessageStream, type UIMessage, type UIMessageChunk } from "ai";

/**
 * The message a stream's chunks describe (added to `continues`, the stored message a reply goes on
 * with after a tool approval): the SDK's `readUIMessageStream`, last snapshot.
 *
 * - The chunks must begin with the `start` chunk carrying the message id (the append-chunks contract);
 *   without it the SDK would invent an empty id.
 * - `error` chunks are left out: the SDK adds no part for them, it only reports them through onError.
 *   Leaving them out lets every other failure throw (`terminateOnError`): a delta whose part never
 *   started means the chunk list has a gap, and the SDK otherwise ends such a stream silently.
 * - `abort` and `finish` change nothing in the message: an aborted reply is the partial message, its
 *   last text part still in state "streaming".
 * - The result is the message as JSON carries it: the SDK's snapshot has keys set to undefined that a
 *   stored copy (JSON, jsonb) does not, and the stored and live versions should compare equal.
 */
export async function messageFromChunks(chunks: readonly UIMessageChunk[], continues?: UIMessage): Promise<UIMessage> {
  const start = chunks[0];
  if (start?.type !== "start" || start.messageId === undefined) {
    throw new Error(`a message's chunks begin with a start chunk naming the message id; got ${JSON.stringify(start)}`);
  }
  const stream = new ReadableStream<UIMessageChunk>({
    start(controller) {
      for (const chunk of chunks) if (chunk.type !== "error") controller.enqueue(chunk);
      controller.close();
    },
  });
  let last: UIMessage | undefined;
  // A reply going on after a tool approval adds to the message as it was (a copy: the SDK changes it).
  const message = continues && structuredClone(continues);
  for await (const snapshot of readUIMessageStream({ message, stream, terminateOnError: true })) last = snapshot;
  // A start chunk with a message id always makes a snapshot; this only satisfies the type checker.
  if (last === undefined) throw new Error("the SDK rebuilt no message from a start chunk");
  return JSON.parse(JSON.stringify(last));
}
