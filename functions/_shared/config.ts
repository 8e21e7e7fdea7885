// Every environment variable the functions read, read and checked once, when a function starts. A
// value that does not make sense stops the function with a message naming the variable, rather than
// quietly turning a limit off (Number("1MB") is NaN, and `size > NaN` is never true).

const problems: string[] = [];

/** The variable's value; empty counts as unset, as on Supabase's dashboard. */
const read = (name: string): string | undefined => Deno.env.get(name) || undefined;

function wholeNumber(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = read(name);
  if (text === undefined) return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (value >= min && value <= max) return value;
  problems.push(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  return fallback;
}

/** A PostgreSQL duration setting: `5s`, `500ms`, `1min` (a bare number is milliseconds, as in PostgreSQL). */
export interface Duration {
  /** As PostgreSQL reads it. */
  text: string;
  ms: number;
}

const units: Record<string, number> = { ms: 1, s: 1000, min: 60_000 };

function duration(name: string, fallback: string): Duration {
  const text = read(name) ?? fallback;
  const match = /^(\d+)(ms|s|min)?$/.exec(text);
  if (match && Number(match[1]) > 0) return { text, ms: Number(match[1]) * units[match[2] ?? "ms"] };
  problems.push(`${name} must be a positive duration such as 5s, 500ms or 1min, not ${JSON.stringify(text)}`);
  return { text: fallback, ms: 0 };
}

/** The URL as given (a database password stays exactly as written), once it is known to parse. */
function url(name: string, fallback: string | undefined, protocols: string[]): string | undefined {
  const text = read(name) ?? fallback;
  if (text === undefined) return undefined;
  try {
    if (protocols.includes(new URL(text).protocol)) return text;
  } catch { /* reported below */ }
  problems.push(`${name} must be a ${protocols.map((protocol) => `${protocol}//`).join(" or ")} URL`);
  return undefined;
}

/** Supabase gives every function SUPABASE_JWKS inline, as {"keys": [...]} or a bare array. */
function jwks(name: string): { keys: JsonWebKey[] } | undefined {
  const text = read(name);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text);
    const set = Array.isArray(parsed) ? { keys: parsed } : parsed;
    if (Array.isArray(set?.keys) && set.keys.every((key: unknown) => key && typeof key === "object")) return set;
  } catch { /* reported below */ }
  problems.push(`${name} must be a JSON Web Key Set: {"keys": [...]} or an array of keys`);
  return undefined;
}

const projectUrl = url("SUPABASE_URL", undefined, ["http:", "https:"]);
const isLocal = /^(127\.0\.0\.1|localhost|kong|host\.docker\.internal)$/.test(
  projectUrl ? new URL(projectUrl).hostname : "",
);
/** The Supabase CLI's default local secret: only ever trusted when the project URL is local. */
const localDefaultSecret = "super-secret-jwt-token-with-at-least-32-characters-long";

// EDGE_FUNCTIONS_DB_URL logs in as the functions' own NOINHERIT role on hosted Supabase (SECURITY.md);
// SUPABASE_DB_URL, which the platform sets, is the fallback.
const databaseUrl = url(
  read("EDGE_FUNCTIONS_DB_URL") ? "EDGE_FUNCTIONS_DB_URL" : "SUPABASE_DB_URL",
  "postgresql://postgres:postgres@127.0.0.1:54322/postgres",
  ["postgres:", "postgresql:"],
)!;

export const config = Object.freeze({
  /** The database the pool connects to (Supabase provides it to every function). */
  databaseUrl,
  /**
   * Where follow-chat LISTENs for changes: a direct or session-mode connection (Supabase's transaction
   * pooler does not carry LISTEN; without it, followers still get every change from the 1 s poll).
   */
  followListenUrl: url("FOLLOW_LISTEN_DB_URL", databaseUrl, ["postgres:", "postgresql:"])!,
  /** Open streams (follow-chat, the chat endpoint) one account may hold in one function process; then 429. */
  followMaxStreamsPerAccount: wholeNumber("FOLLOW_MAX_STREAMS_PER_ACCOUNT", 100, 1, 100_000),
  /** How long one follow-chat stream lasts before `event: end` (under the hosted 150 s wall clock). */
  followMaxSeconds: wholeNumber("FOLLOW_MAX_SECONDS", 120, 1, 3600),
  /** A live stream is deleted this long after it closed (a reader that comes later reads the stored message). */
  streamKeepSeconds: wholeNumber("STREAM_KEEP_SECONDS", 300, 1, 86_400),
  /** claim-chats recovers a chat whose worker has not heartbeated for this long. */
  staleAfter: duration("STALE_AFTER", "90s"),
  /** A chat waiting for the user's approval of a tool call this long is denied by the system (and idle). */
  approvalTimeout: duration("APPROVAL_TIMEOUT", "30min"),
  /** The HS256 secret; the CLI's local default only when SUPABASE_URL is local. */
  jwtSecret: read("SUPABASE_JWT_SECRET") ?? read("JWT_SECRET") ?? (isLocal ? localDefaultSecret : undefined),
  /** Keys for asymmetric (ES256, RS256, EdDSA) tokens: inline, or fetched from a URL. */
  jwks: jwks("SUPABASE_JWKS"),
  jwksUrl: url("SUPABASE_JWKS_URL", undefined, ["http:", "https:"]),
  /** Larger request bodies get 413. */
  maxBodyBytes: wholeNumber("MAX_BODY_BYTES", 1024 * 1024, 1),
  /** A client has this long to send a request's body, once its headers arrived; then 408. */
  bodyTimeoutMs: wholeNumber("REQUEST_BODY_TIMEOUT_MS", 60_000, 1),
  /**
   * Twice the database's cores (the local stack's 2): more connections than that make each transaction
   * cost the database more CPU (lock and context-switch contention), not less. docs/performance.md.
   */
  poolMax: wholeNumber("DB_POOL_MAX", 4, 1, 1000),
  connectTimeoutS: wholeNumber("DB_CONNECT_TIMEOUT_S", 5, 1, 3600),
  /** A runaway statement or a stuck lock becomes a prompt 503 instead of a hung request. */
  statementTimeout: duration("DB_STATEMENT_TIMEOUT", "5s"),
  lockTimeout: duration("DB_LOCK_TIMEOUT", "2s"),
});

if (problems.length) throw new Error(`invalid configuration of the functions:\n  ${problems.join("\n  ")}`);
