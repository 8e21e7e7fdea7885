// The frame every function shares: CORS preflight, method, authentication, reading and validating
// the input (a JSON body for POST, the query string for GET), error responses, and one structured
// log line per request. A function supplies only its schema and its one database call.
import type { z } from "zod";
import { authenticate, type Caller, requireServiceRole } from "./auth.ts";
import { corsHeaders, errorResponse, HttpError, jsonTextResponse, type Method, readJsonBody } from "./http.ts";
import { describeFailure, explain } from "./validation.ts";

/** What a function answers: a status and the body as JSON text, or a whole Response (a stream, say). */
export type Answer = { status: number; json: string } | Response;

interface Common {
  name: string;
  serviceRoleOnly?: boolean;
}

/** Called with POST and a JSON body. */
export interface PostOperation<Schema extends z.ZodType> extends Common {
  method?: "POST";
  request: Schema;
  /** This function's body limit in bytes, when it is not MAX_BODY_BYTES (default 1 MiB). */
  maxBodyBytes?: number;
  /** The one database call. */
  run(body: z.infer<Schema>, caller: Caller, request: Request): Promise<Answer>;
}

/**
 * Called with GET and query-string parameters. Values arrive as strings, so the schema coerces what
 * is not one; a parameter the schema does not name, or one given twice, is refused.
 */
export interface GetOperation<Schema extends z.ZodObject> extends Common {
  method: "GET";
  query: Schema;
  /** Also take the token from an `access_token` parameter (never logged), for EventSource. */
  acceptsAccessToken?: boolean;
  /** Parameters in the URL's path: the pattern's named groups join the query string's (no match: 404). */
  path?: RegExp;
  run(query: z.infer<Schema>, caller: Caller, request: Request): Promise<Answer>;
}

type Handler = (request: Request) => Promise<Response>;

export function operation<Schema extends z.ZodType>(op: PostOperation<Schema>): Handler;
export function operation<Schema extends z.ZodObject>(op: GetOperation<Schema>): Handler;
export function operation(op: PostOperation<z.ZodType> | GetOperation<z.ZodObject>): Handler {
  const method: Method = op.method ?? "POST";
  const cors = corsHeaders(method);
  const allow = { Allow: `${method}, OPTIONS` };
  const input = op.method === "GET"
    ? (request: Request) => Promise.resolve(readQuery(request, op.query, op.path))
    : async (request: Request) => validate(op.request, await readJsonBody(request, op.maxBodyBytes), "the body");
  const run = op.run as (input: unknown, caller: Caller, request: Request) => Promise<Answer>;
  const queryToken = (request: Request) =>
    op.method === "GET" && op.acceptsAccessToken ? new URL(request.url).searchParams.get("access_token") : undefined;

  return async (request: Request): Promise<Response> => {
    const started = performance.now();
    const requestId = request.headers.get("x-request-id") ?? crypto.randomUUID();
    let response: Response;
    let failure: { code: string; sqlstate?: string } | undefined;
    try {
      if (request.method === "OPTIONS") {
        response = new Response(null, { status: 204, headers: cors });
      } else {
        if (request.method !== method) {
          throw new HttpError(405, "method_not_allowed", `use ${method}`, undefined, allow);
        }
        const caller = await authenticate(request, queryToken(request));
        if (op.serviceRoleOnly) requireServiceRole(caller);
        const answer = await run(await input(request), caller, request);
        response = answer instanceof Response
          ? withHeaders(answer, cors)
          : jsonTextResponse(answer.json, answer.status, cors);
      }
    } catch (error) {
      if (error instanceof HttpError) {
        failure = { code: error.code };
        response = errorResponse(error, cors);
      } else {
        // Log what went wrong without its message: PostgreSQL messages can quote request values.
        failure = { code: "internal", sqlstate: (error as { code?: string })?.code };
        response = errorResponse(new HttpError(500, "internal", "something went wrong; it has been logged"), cors);
      }
    }
    response.headers.set("x-request-id", requestId);
    // For a streamed response, this is when its headers were ready, not when the stream ended.
    console.log(JSON.stringify({
      fn: op.name,
      status: response.status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      request_id: requestId,
      ...(failure ? { error: failure.code, ...(failure.sqlstate ? { sqlstate: failure.sqlstate } : {}) } : {}),
    }));
    return response;
  };
}

/** `value` parsed by `schema`, or a 400 naming every problem; `where` names the whole input. */
function validate<Schema extends z.ZodType>(schema: Schema, value: unknown, where: string): z.infer<Schema> {
  const parsed = schema.safeParse(value, { error: explain });
  if (parsed.success) return parsed.data;
  const { message, details } = describeFailure(parsed.error, where);
  throw new HttpError(400, "invalid_request", message, details);
}

/** The query string (and the path's parameters) as an object of strings, checked against `schema`. */
function readQuery(request: Request, schema: z.ZodObject, path?: RegExp): unknown {
  const url = new URL(request.url);
  const inPath = path ? path.exec(url.pathname)?.groups : {};
  if (!inPath) throw new HttpError(404, "not_found", `nothing is served at ${url.pathname}`);
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(inPath)) query[name] = decodePathPart(value);
  const repeated = new Set<string>(), unknown = new Set<string>();
  for (const [name, value] of url.searchParams) {
    if (name in query) repeated.add(name);
    if (!(name in schema.shape)) unknown.add(name);
    query[name] = value;
  }
  const accepted = Object.keys(schema.shape).join(", ") || "none";
  if (unknown.size) {
    const names = [...unknown].map((name) => JSON.stringify(name)).join(", ");
    const what = unknown.size === 1
      ? `an unknown parameter ${names}: remove it`
      : `unknown parameters ${names}: remove them`;
    throw new HttpError(400, "invalid_request", `the query string has ${what} (accepted: ${accepted})`);
  }
  if (repeated.size) {
    throw new HttpError(400, "invalid_request", `give each query parameter once: ${[...repeated].join(", ")}`);
  }
  return validate(schema, query, "the query string");
}

function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HttpError(400, "invalid_request", "the path has a malformed percent-encoding");
  }
}

/** `response` with `headers` added; a copy when its headers cannot change (a fetched response, say). */
function withHeaders(response: Response, headers: Record<string, string>): Response {
  try {
    for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    for (const [name, value] of Object.entries(headers)) copy.headers.set(name, value);
    return copy;
  }
}

/**
 * One function served on several methods (the chat endpoint: POST a message, GET its stream): the
 * preflight allows them all, and each request goes to its method's operation.
 */
export function byMethod(handlers: Partial<Record<Method, Handler>>): Handler {
  const methods = Object.keys(handlers).join(", ");
  const cors = { ...corsHeaders("GET"), "Access-Control-Allow-Methods": `${methods}, OPTIONS` };
  return (request) => {
    if (request.method === "OPTIONS") return Promise.resolve(new Response(null, { status: 204, headers: cors }));
    const handler = handlers[request.method as Method];
    if (handler) return handler(request);
    const allow = { Allow: `${methods}, OPTIONS` };
    return Promise.resolve(
      errorResponse(new HttpError(405, "method_not_allowed", `use ${methods}`, undefined, allow), cors),
    );
  };
}
