// HTTP plumbing every function shares: the one error type, the JSON error shape, CORS, and reading
// a JSON body defensively (content type, size, time, syntax).
import { config } from "./config.ts";
import { withDeadline } from "./deadline.ts";

/** The only error a function throws on purpose. Becomes `{ error: { code, message, details? } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export type Method = "GET" | "POST";

const cors = (method: Method) => ({
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type, x-region, x-request-id",
  "Access-Control-Allow-Methods": `${method}, OPTIONS`,
  "Access-Control-Max-Age": "86400",
});
const corsByMethod = { GET: cors("GET"), POST: cors("POST") };

/** The headers Supabase documents for browser clients of edge functions, for a function called with `method`. */
export const corsHeaders = (method: Method): Record<string, string> => corsByMethod[method];

/** A response whose body is already JSON text. */
export function jsonTextResponse(json: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(json, { status, headers: { "Content-Type": "application/json", ...headers } });
}

export function errorResponse(error: HttpError, headers: Record<string, string> = {}): Response {
  const { code, message, details } = error;
  const body = { error: details === undefined ? { code, message } : { code, message, details } };
  return jsonTextResponse(JSON.stringify(body), error.status, { ...headers, ...error.headers });
}

const { maxBodyBytes, bodyTimeoutMs } = config;

/**
 * The request's JSON body, or an HttpError: 415, 413, 408, 499 or 400. `limit` is the function's own
 * body limit when it differs from MAX_BODY_BYTES (push-context takes up to 16 MiB).
 */
export async function readJsonBody(request: Request, limit = maxBodyBytes): Promise<unknown> {
  const contentType = request.headers.get("content-type")?.split(";")[0].trim().toLowerCase();
  if (contentType !== "application/json") {
    throw new HttpError(415, "unsupported_media_type", "send the body as application/json");
  }
  const declared = request.headers.get("content-length");
  if (Number(declared) > limit) throw tooLarge(limit);
  // With a declared length the server already holds the body to exactly that size; without one
  // (chunked), read it piece by piece and stop at the limit.
  const reading = declared !== null
    ? request.arrayBuffer().then((body) => new Uint8Array(body))
    : readLimited(request, limit);
  const bytes = await withDeadline(reading.catch(unreadable), bodyTimeoutMs, bodyTimeout);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new HttpError(400, "invalid_json", "the body is not valid UTF-8 JSON: send a JSON object");
  }
}

/** The body stopped arriving: the client closed the connection (nginx's 499; nobody is left to read it). */
function unreadable(error: unknown): never {
  if (error instanceof HttpError) throw error;
  throw new HttpError(499, "client_disconnected", "the client closed the connection before sending the whole body");
}

// Connection: close, because the server would otherwise keep reading a body nobody waits for.
const bodyTimeout = () =>
  new HttpError(
    408,
    "request_timeout",
    `the body did not arrive within ${bodyTimeoutMs / 1000} s of the headers`,
    undefined,
    { Connection: "close" },
  );

async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body ?? []) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return concat(chunks, size);
}

function tooLarge(limit: number) {
  return new HttpError(413, "payload_too_large", `the body exceeds ${limit} bytes`);
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
