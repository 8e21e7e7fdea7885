// The benchmark's own HTTP client, for workloads wrk cannot express: loops that stop on an answer
// (claim until nothing is left), streams (follow-chat), and timing against the database's clock.
// The client runs on the same host as PostgreSQL, so `now()` here and `now()` there read one clock.
import { createParser } from "eventsource-parser";

/** Wall-clock time in ms with sub-millisecond precision (Date.now() has only whole ms). */
export const now = () => performance.timeOrigin + performance.now();

/** A timestamptz as PostgreSQL writes it in JSON (microseconds), in ms since the epoch. */
export function databaseTime(text: string): number {
  const match = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/.exec(text);
  if (!match) throw new Error(`not a timestamp: ${text}`);
  return Date.parse(match[1] + match[3]) + Number(`0.${match[2] ?? "0"}`) * 1000;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Calls an edge function (POST with a JSON body, or GET without one); throws on a non-2xx answer. */
export async function call<T = Record<string, unknown>>(
  apiUrl: string,
  name: string,
  token: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${apiUrl}/functions/v1/${name}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${name} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** A JWT's claims, for SQL sent as the functions send it (they set `request.jwt.claims` from the token). */
export const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());

/** A UIMessage with one text part. */
export const textMessage = (id: string, role: "user" | "assistant", text: string) => ({
  id,
  role,
  parts: [{ type: "text", text }],
});

/** An event of a follow-chat stream, and when the network chunk holding it arrived. */
export interface Received {
  event: string;
  id?: number;
  data: string;
  at: number;
}

export interface Follower {
  received: Received[];
  /** Resolves true once `done` holds for what was received, false on timeout or when the stream ended without it. */
  until(done: (received: Received[]) => boolean, timeoutMs: number): Promise<boolean>;
  close(): void;
}

/** The follower has caught up: follow-chat sends the chat's state once the backlog is out, then goes live. */
export const caughtUp = (received: Received[]) => received.some((e) => e.event === "chat");

/**
 * follow-chat for one chat as a streaming fetch, parsed as EventSource parses it (eventsource-parser).
 * Events are kept as they arrive, stamped with the arrival of their network chunk (parsing comes after
 * the stamp, so a follower's own work does not count as delivery time). Throws unless it answers 200.
 */
export async function follow(apiUrl: string, chatId: string, token: string): Promise<Follower> {
  const abort = new AbortController();
  const response = await fetch(`${apiUrl}/functions/v1/follow-chat?chat_id=${encodeURIComponent(chatId)}`, {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
    signal: abort.signal,
  });
  if (response.status !== 200 || !response.body) {
    throw new Error(`follow-chat answered ${response.status}: ${await response.text()}`);
  }
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  let at = 0, ended = false;
  const parser = createParser({
    onEvent: (e) =>
      void received.push({
        event: e.event ?? "message",
        id: e.id === undefined ? undefined : Number(e.id),
        data: e.data,
        at,
      }),
  });
  const reader = response.body.getReader();
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        at = now();
        parser.feed(decoder.decode(value, { stream: true }));
        waiters.forEach((wake) => wake());
      }
    } catch { /* closed by us */ }
    ended = true;
    waiters.forEach((wake) => wake());
  })();
  return {
    received,
    close: () => abort.abort(),
    until: (done, timeoutMs) =>
      new Promise((resolve) => {
        const check = () => {
          if (!done(received) && !ended) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(done(received));
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          resolve(false);
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}
