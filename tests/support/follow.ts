// A follower of follow-chat as a test holds it: fetch + the SSE parser EventSource itself uses
// (eventsource-parser), so the stream is read exactly as a browser would read it.
import { EventSourceParserStream } from "eventsource-parser/stream";
import type { ChatSummary, MessageSummary } from "../../functions/_shared/schemas/mod.ts";

/** An event as received: `id` is its revision (NaN for a cursor with a stream position), `cursor` the id as sent. */
export type FollowEvent =
  & { cursor: string | undefined }
  & (
    | { event: "message"; id: number; data: MessageSummary }
    | { event: "chat"; id: number; data: ChatSummary }
    | { event: "chunk"; id: number; data: { message_id: string; index: number; chunk: { type: string } } }
    | { event: "reset"; id: number; data: { history_version: number; from_seq: number } }
    | { event: "queue"; id: number; data: { queued: { id: string; position: number }[] } }
    | { event: "end"; id: undefined; data: { reason: string; revision: number; cursor: string } }
  );

export interface Follower {
  status: number;
  headers: Headers;
  /** Every event received so far, in order. */
  events: FollowEvent[];
  /** Raw text of the stream so far (retry and ping lines included). */
  raw: string[];
  /** Settles when the server closes the stream or it is cut off. */
  closed: Promise<void>;
  /** Waits until `predicate` holds for the events received so far. */
  until(predicate: (events: FollowEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Cuts the connection off, as a closed laptop would. */
  cut(): void;
  /** The last id the stream carried: what EventSource sends back as Last-Event-ID. */
  lastEventId(): string | undefined;
}

export async function follow(
  url: string,
  { token, lastEventId, headers = {} }: { token?: string; lastEventId?: string; headers?: Record<string, string> } = {},
): Promise<Follower> {
  const abort = new AbortController();
  const response = await fetch(url, {
    signal: abort.signal,
    headers: {
      Accept: "text/event-stream",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(lastEventId ? { "Last-Event-ID": lastEventId } : {}),
      ...headers,
    },
  });
  const events: FollowEvent[] = [];
  const raw: string[] = [];
  let last: string | undefined = lastEventId;
  const waiters = new Set<() => void>();
  let done = false;
  const closed = (async () => {
    if (!response.ok || !response.body) return void (done = true);
    const [forParser, forRaw] = response.body.tee();
    void forRaw.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void raw.push(chunk) }),
    )
      .catch(() => {});
    const stream = forParser.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    try {
      for await (const message of stream) {
        if (message.id !== undefined) last = message.id;
        events.push({
          event: message.event as FollowEvent["event"],
          cursor: message.id,
          id: message.id === undefined ? undefined : Number(message.id),
          data: JSON.parse(message.data),
        } as FollowEvent);
        waiters.forEach((wake) => wake());
      }
    } catch {
      // cut off
    }
    done = true;
    waiters.forEach((wake) => wake());
  })();

  return {
    status: response.status,
    headers: response.headers,
    events,
    raw,
    closed,
    cut: () => abort.abort(),
    lastEventId: () => last,
    until(predicate, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (predicate(events)) return finish(resolve);
          if (done) finish(() => reject(new Error(`stream closed; ${events.length} events, condition unmet`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`timed out; ${events.length} events, condition unmet`))),
          timeoutMs,
        );
        const finish = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** The messages a follower holds after applying its events in order: id -> latest UIMessage. */
export function applied(events: FollowEvent[]): Map<string, unknown> {
  const state = new Map<string, unknown>();
  for (const e of events) if (e.event === "message") state.set(e.data.id, e.data.message);
  return state;
}

/** Feeds a follower's events, from `from` on, to a view (which throws on a repeated or missing chunk). */
export function applyAll(
  view: { apply(event: { event: string; id?: string; data: unknown }): void },
  follower: Follower,
  from = 0,
) {
  for (const event of follower.events.slice(from)) {
    view.apply({ event: event.event, id: event.cursor, data: event.data });
  }
  return follower.events.length;
}
