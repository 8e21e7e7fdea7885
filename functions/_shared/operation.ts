// The frame every function shares: CORS preflight, method, authentication, body parsing and
// validation, error responses, and one structured log line per request. A function supplies only
// its schema and its one database call.
import type { z } from "zod";
import { authenticate, type Caller, requireServiceRole } from "./auth.ts";
import { corsHeaders, errorResponse, HttpError, jsonTextResponse, readJsonBody } from "./http.ts";

export interface Operation<Schema extends z.ZodType> {
  name: string;
  request: Schema;
  serviceRoleOnly?: boolean;
  /** This function's body limit in bytes, when it is not MAX_BODY_BYTES (default 1 MiB). */
  maxBodyBytes?: number;
  /** The one database call; returns the status and the response body as JSON text. */
  run(body: z.infer<Schema>, caller: Caller): Promise<{ status: number; json: string }>;
}

export function operation<Schema extends z.ZodType>(op: Operation<Schema>) {
  return async (request: Request): Promise<Response> => {
    const started = performance.now();
    const requestId = request.headers.get("x-request-id") ?? crypto.randomUUID();
    let response: Response;
    let failure: { code: string; sqlstate?: string } | undefined;
    try {
      if (request.method === "OPTIONS") {
        response = new Response(null, { status: 204, headers: corsHeaders });
      } else {
        if (request.method !== "POST") {
          throw new HttpError(405, "method_not_allowed", "use POST", undefined, { Allow: "POST, OPTIONS" });
        }
        const caller = await authenticate(request);
        if (op.serviceRoleOnly) requireServiceRole(caller);
        const body = validate(op.request, await readJsonBody(request, op.maxBodyBytes));
        const result = await op.run(body, caller);
        response = jsonTextResponse(result.json, result.status);
      }
    } catch (error) {
      if (error instanceof HttpError) {
        failure = { code: error.code };
        response = errorResponse(error);
      } else {
        // Log what went wrong without its message: PostgreSQL messages can quote request values.
        failure = { code: "internal", sqlstate: (error as { code?: string })?.code };
        response = errorResponse(new HttpError(500, "internal", "something went wrong; it has been logged"));
      }
    }
    response.headers.set("x-request-id", requestId);
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

function validate<Schema extends z.ZodType>(schema: Schema, value: unknown): z.infer<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.slice(0, 20).map((issue) => ({
    path: issue.path.join("."),
    message: issue.message,
  }));
  throw new HttpError(400, "invalid_request", "the body does not match the expected shape", details);
}
