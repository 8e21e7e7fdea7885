// HTTP plumbing every function shares: the one error type, the JSON error shape, CORS, and reading
// a JSON body defensively (method, content type, size, syntax).

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

/** The headers Supabase documents for browser clients of edge functions. */
export const corsHeaders = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type, x-region, x-request-id",
  "Access-Control-Allow-Methods": "POST, OPTIONS",
  "Access-Control-Max-Age": "86400",
};

/** A response whose body is already JSON text. */
export function jsonTextResponse(json: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(json, { status, headers: { ...corsHeaders, "Content-Type": "application/json", ...headers } });
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return jsonTextResponse(JSON.stringify(body), status, headers);
}

export function errorResponse(error: HttpError): Response {
  const { code, message, details } = error;
  return jsonResponse({ error: details === undefined ? { code, message } : { code, message, details } }, error.status, {
    ...error.headers,
  });
}

const maxBodyBytes = Number(Deno.env.get("MAX_BODY_BYTES") ?? 1024 * 1024);

/**
 * The request's JSON body, or an HttpError: 405, 415, 413 or 400. `limit` is the function's own body
 * limit when it differs from MAX_BODY_BYTES (push-context takes up to 16 MiB).
 */
export async function readJsonBody(request: Request, limit = maxBodyBytes): Promise<unknown> {
  if (request.method !== "POST") {
    throw new HttpError(405, "method_not_allowed", "use POST", undefined, { Allow: "POST, OPTIONS" });
  }
  const contentType = request.headers.get("content-type")?.split(";")[0].trim().toLowerCase();
  if (contentType !== "application/json") {
    throw new HttpError(415, "unsupported_media_type", "send the body as application/json");
  }
  const declared = request.headers.get("content-length");
  if (Number(declared) > limit) throw tooLarge(limit);
  // With a declared length the server already holds the body to exactly that size; without one
  // (chunked), read it piece by piece and stop at the limit.
  const bytes = declared !== null ? new Uint8Array(await request.arrayBuffer()) : await readLimited(request, limit);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new HttpError(400, "invalid_json", "the body is not valid UTF-8 JSON");
  }
}

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
