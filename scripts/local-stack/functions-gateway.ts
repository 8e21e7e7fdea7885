// The local stand-in for Supabase's edge runtime and API gateway, in one real Deno process: every
// folder under functions/ (except _shared) is served at /functions/v1/<name>, as `supabase
// functions serve` does. The functions stay exactly as deployed: each index.ts calls
// Deno.serve(handler), and this file captures that handler instead of opening a port per function.
//
// Like Supabase's gateway, it bounds how long a client may hold a connection without sending a
// request. Deno.serve has no such limits (a socket that never finishes its headers stays open
// forever), so the gateway owns the client's TCP connection and relays it to an internal
// Deno.serve on a loopback port. It knows which connection each request came on (the relay's
// local port is the request's remote port), so it can tell "waiting for a request" from "serving
// one" and close a connection that waits too long:
//   GATEWAY_HEADER_TIMEOUT_MS  a new connection, or a kept-alive one that has started its next
//                              request, must finish the request's headers within this (default 30 s);
//   GATEWAY_IDLE_TIMEOUT_MS    a kept-alive connection may wait this long for its next request (75 s).
// The body is the functions' concern (REQUEST_BODY_TIMEOUT_MS answers 408 with Connection: close,
// which the gateway honours, since Deno.serve keeps reading an unread body instead).
type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

const functionsDir = new URL("../../functions/", import.meta.url);

function wholeNumber(name: string, fallback: number, min: number): number {
  const text = Deno.env.get(name);
  if (!text) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min) {
    throw new Error(`${name} must be a whole number of at least ${min}, not ${JSON.stringify(text)}`);
  }
  return Number(text);
}
const port = wholeNumber("PORT", 54321, 0);
const headerTimeoutMs = wholeNumber("GATEWAY_HEADER_TIMEOUT_MS", 30_000, 1);
const idleTimeoutMs = wholeNumber("GATEWAY_IDLE_TIMEOUT_MS", 75_000, 1);

async function loadHandler(entrypoint: URL): Promise<Handler> {
  let captured: Handler | undefined;
  const serve = Deno.serve;
  // deno-lint-ignore no-explicit-any
  (Deno as any).serve = (...args: unknown[]) => {
    const last = args.at(-1);
    captured = typeof last === "function" ? last as Handler : (last as { handler: Handler }).handler;
    return { finished: Promise.resolve(), ref() {}, unref() {}, shutdown: () => Promise.resolve() };
  };
  try {
    await import(entrypoint.href);
  } finally {
    (Deno as { serve: typeof serve }).serve = serve;
  }
  if (!captured) throw new Error(`${entrypoint.pathname} never called Deno.serve(handler)`);
  return captured;
}

const handlers = new Map<string, Handler>();
for (const entry of [...Deno.readDirSync(functionsDir)].sort((a, b) => a.name.localeCompare(b.name))) {
  if (!entry.isDirectory || entry.name.startsWith("_") || entry.name.startsWith(".")) continue;
  handlers.set(entry.name, await loadHandler(new URL(`${entry.name}/index.ts`, functionsDir)));
}
const served = [...handlers.keys()].join(", ") || "(none)";

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

/** The Supabase services `supabase start` has and this stack does not. */
const otherServices: Record<string, string> = {
  rest: "PostgREST (tables and RPC)",
  realtime: "Realtime",
  auth: "Auth",
  storage: "Storage",
};

/**
 * An error in PostgREST's shape, so supabase-js's `from()` and `rpc()` show `message` as their error.
 * Auth gets 404 rather than 501: supabase-js's auth client takes any 5xx for a network failure and
 * drops the body, while it reads `message` from a 4xx.
 */
function notServed(request: Request, pathname: string): Response {
  const prefix = /^\/(\w+)\/v1(\/|$)/.exec(pathname)?.[1] ?? "";
  const service = otherServices[prefix];
  const what = service ? `${service} is not part of the local stack` : `nothing is served at ${pathname}`;
  return Response.json({
    code: service ? "not_served_locally" : "not_found",
    message: `${what}: it serves edge functions only, at /functions/v1/<name> (${served})`,
    details: `${request.method} ${pathname}`,
    hint: service
      ? "call the edge functions (supabase.functions.invoke), or use a hosted Supabase project for this service"
      : "call /functions/v1/<name>",
  }, { status: service && prefix !== "auth" ? 501 : 404 });
}

function route(request: Request, info: Deno.ServeHandlerInfo): Response | Promise<Response> {
  const { pathname } = new URL(request.url);
  const match = /^\/functions\/v1\/([^/?]+)/.exec(pathname);
  if (!match) return notServed(request, pathname);
  const handler = handlers.get(match[1]);
  if (handler) return handler(request, info);
  return Response.json({
    error: { code: "not_found", message: `no function named ${match[1]}; this stack serves ${served}` },
  }, { status: 404 });
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

interface Connection {
  client: Deno.TcpConn;
  upstream: Deno.TcpConn;
  /** Requests being served; while there are any, the gateway sets no limit. */
  serving: number;
  /** When the connection is closed unless a request arrives first (performance.now() time). */
  deadline: number;
  /** Waiting for a kept-alive connection's next request (no byte of it yet). */
  idle: boolean;
  /** A response said Connection: close: the rest of what the client sends is dropped. */
  closing: boolean;
  closed: boolean;
}

/** Open connections, by the local port of their relay to the internal server. */
const connections = new Map<number, Connection>();

function close(connection: Connection, answer?: string) {
  if (connection.closed) return;
  connection.closed = true;
  connections.delete(connection.upstream.localAddr.port);
  const closeBoth = () => {
    for (const socket of [connection.client, connection.upstream]) {
      try {
        socket.close();
      } catch { /* already closed */ }
    }
  };
  if (answer) connection.client.write(new TextEncoder().encode(answer)).catch(() => {}).finally(closeBoth);
  else closeBoth();
}

// One sweep closes every connection past its deadline: cheaper than a timer per request.
const sweepMs = Math.max(20, Math.min(headerTimeoutMs, idleTimeoutMs, 10_000) / 10);
setInterval(() => {
  const now = performance.now();
  for (const connection of connections.values()) {
    if (connection.serving || connection.deadline > now) continue;
    close(connection, connection.idle ? undefined : "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n");
  }
}, sweepMs);

/** Copies one direction until it ends; `forward` sees each chunk arrive and may drop it. */
async function relay(from: Deno.TcpConn, to: Deno.TcpConn, forward: () => boolean) {
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const size = await from.read(buffer);
    if (size === null) return;
    if (!forward()) continue;
    for (let sent = 0; sent < size;) sent += await to.write(buffer.subarray(sent, size));
  }
}

async function accept(client: Deno.TcpConn) {
  let upstream: Deno.TcpConn;
  try {
    upstream = await Deno.connect({ hostname: "127.0.0.1", port: internal.addr.port });
  } catch {
    return client.close();
  }
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  const connection: Connection = {
    client,
    upstream,
    serving: 0,
    deadline: performance.now() + headerTimeoutMs,
    idle: false,
    closing: false,
    closed: false,
  };
  connections.set(upstream.localAddr.port, connection);
  const fromClient = () => {
    // The first byte of a kept-alive connection's next request: its headers are now on the clock.
    if (connection.idle && !connection.serving && !connection.closing) {
      connection.idle = false;
      connection.deadline = performance.now() + headerTimeoutMs;
    }
    return !connection.closing;
  };
  // The internal server ends the connection (after Connection: close, or an error): so does the client's.
  const toClient = relay(upstream, client, () => true).catch(() => {}).then(() => close(connection));
  try {
    await relay(client, upstream, fromClient);
    // The client finished sending; it still gets the answer to what it sent.
    await upstream.closeWrite();
  } catch {
    close(connection); // a reset, or a write to a closed socket: the connection is over
  }
  await toClient;
}

/**
 * Ends the connection once the response has reached the client: the internal server is told the
 * client has nothing more to send (it then closes its side, and the relay closes the client's after
 * the last byte); whatever the client still sends is dropped. The sweep closes it if that stalls.
 */
function closeAfterResponse(connection: Connection) {
  connection.closing = true;
  connection.idle = true;
  connection.deadline = performance.now() + 1000;
  connection.upstream.closeWrite().catch(() => close(connection));
}

const wantsClose = (response: Response) => response.headers.get("connection")?.toLowerCase() === "close";

/** Serves one request, keeping its connection's bookkeeping. */
function track(request: Request, info: Deno.ServeHandlerInfo): Response | Promise<Response> {
  const connection = connections.get((info.remoteAddr as Deno.NetAddr).port);
  if (!connection) {
    return Response.json({ error: { code: "misdirected", message: `connect to port ${port}` } }, { status: 421 });
  }
  connection.serving++;
  let closeAfter = false;
  const finished = () => {
    connection.serving--;
    if (closeAfter) return closeAfterResponse(connection);
    if (connection.serving) return;
    connection.idle = true;
    connection.deadline = performance.now() + idleTimeoutMs;
  };
  info.completed.then(finished, finished);
  const answer = route(request, info);
  if (answer instanceof Response) {
    closeAfter = wantsClose(answer);
    return answer;
  }
  return answer.then((response) => {
    closeAfter = wantsClose(response);
    return response;
  });
}

const internal = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, track);

// Exit (rather than die) on SIGTERM, so exit hooks such as --cpu-prof run.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));

const listener = Deno.listen({ hostname: "127.0.0.1", port });
console.log(`functions listening on :${port}: ${served}`);
// accept() settles only once its connection is over; a socket error there ends just that connection.
for await (const client of listener) accept(client).catch(() => {});
