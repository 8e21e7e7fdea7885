// The edge functions, called with the signed-in user's token. Plain fetch: every function is
// `<project URL>/functions/v1/<name>`, GET with a query string for the reads, POST with a JSON body for
// the rest; every error is `{ error: { code, message } }` (docs/api.md).
export type {
  AppendMessageResponse,
  ChatSummary,
  CreateChatResponse,
  GetMessagesResponse,
  ListChatsResponse,
  ListSessionsResponse,
  QueuedMessage,
} from "../../../functions/_shared/schemas/mod.ts";
export type { StoredMessage } from "../../../client/follow-chat.ts";

/** An error answer of the API. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export interface Api {
  functionsUrl: string;
  /** The current access token (a hosted project's is refreshed as the session goes on). */
  token(): string;
  get<T>(name: string, query: Record<string, string | number>): Promise<T>;
  post<T>(name: string, body: unknown): Promise<T>;
}

export function createApi(supabaseUrl: string, token: () => string): Api {
  const functionsUrl = `${supabaseUrl}/functions/v1`;
  async function call<T>(name: string, init: RequestInit, query = ""): Promise<T> {
    const response = await fetch(`${functionsUrl}/${name}${query}`, {
      ...init,
      headers: { ...init.headers, Authorization: `Bearer ${token()}` },
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = body?.error ?? { code: "http", message: `${name} answered HTTP ${response.status}` };
      throw new ApiError(response.status, error.code, error.message);
    }
    return body as T;
  }
  return {
    functionsUrl,
    token,
    get: (name, query) => {
      const search = new URLSearchParams(Object.entries(query).map(([key, value]) => [key, String(value)]));
      return call(name, { method: "GET" }, `?${search}`);
    },
    post: (name, body) =>
      call(name, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }),
  };
}
