// The benchmark's own HTTP client, for workloads wrk cannot express: loops that stop on an answer
// (claim until nothing is left), streams (follow-chat), and timing against the database's clock.
// The client runs on the same host as PostgreSQL, so `now()` here and `now()` there read one clock.

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

/** A UIMessage with one text part. */
export const textMessage = (id: string, role: "user" | "assistant", text: string) => ({
  id,
  role,
  parts: [{ type: "text", text }],
});
