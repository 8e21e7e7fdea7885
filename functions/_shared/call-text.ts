// The text of one database call: the caller's identity and one SQL function call, as one
// simple-protocol query whose first two statements PostgreSQL runs as one implicit transaction (one
// round trip, atomic, no prepared statement, so it works through Supabase's transaction pooler).
// The result comes back as JSON text (passed to the client as is, never parsed and re-serialised)
// plus its `created` and `queued` flags, which decide between 201, 202 and 200.
//
// A call that may change a chat asks for its change hints (pg_notify) to be deferred: notifying
// inside its durable transaction would hold PostgreSQL's cluster-wide notify lock through the disk
// flush and make concurrent writes commit one at a time (migration 20261125160000). Its answer then
// also returns what it deferred (`changed`, `became_pending`: the followed chats it changed, the chats
// it made pending); when there is any, announcementsText() is the second call that sends the hints, in
// a non-durable transaction of its own, after the first committed (migration 20261206160000: most
// appends defer nothing and need no second transaction). If the call fails, nothing is announced. An
// implicit transaction rather than BEGIN, because a failed explicit one would leave the pooled
// connection in an aborted transaction.
// Pure: the benchmark's pgbench baseline sends exactly this text too.
//
// Every argument is written as a literal cast to its type in the function's signature
// (types/function-args.ts, generated from the migrations with the other types), so a value's shape
// never decides how PostgreSQL reads it: an array is a text[] where the function takes text[], JSON
// where it takes jsonb.
import { functionArgs } from "../../types/function-args.ts";

export interface CallText {
  role: "authenticated" | "service_role";
  claims: unknown;
  fn: string;
  /** Arguments by name (`arg => value`); undefined ones take the function's default. */
  args: Record<string, unknown>;
  statementTimeout: string;
  lockTimeout: string;
  /** The call may change chats: send their change hints after it commits. */
  announce: boolean;
}

export function callText({ role, claims, fn, args, statementTimeout, lockTimeout, announce }: CallText): string {
  // Names are SQL identifiers written into the text: only plain lower-case ones, checked here where
  // the text is built (they come from code, never from a request). Everything else is a literal.
  const signature: Record<string, string> | undefined = functionArgs[fn as keyof typeof functionArgs];
  if (!signature) throw new RangeError(`no such SQL function: ${JSON.stringify(fn)}`);
  const named = Object.entries(args)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => {
      const type = signature[name];
      if (!type) throw new RangeError(`${fn} takes no argument ${JSON.stringify(name)}`);
      return `${identifier(name)} => ${literal(value, type)}::${type}`;
    });
  if (role !== "authenticated" && role !== "service_role") throw new RangeError(`no such API role: ${role}`);
  return `select set_config('role', ${literal(role)}, true), ` +
    `set_config('request.jwt.claims', ${literal(claims)}, true), ` +
    `set_config('statement_timeout', ${literal(statementTimeout)}, true), ` +
    `set_config('lock_timeout', ${literal(lockTimeout)}, true)` +
    (announce ? `, set_config('chat.announce', 'after_commit', true); ` : `; `) +
    // created and queued are flags of append_message's answer; elsewhere `queued` is a list (a chat's queue).
    `select (result -> 'created') = 'true' as created, (result -> 'queued') = 'true' as queued, ` +
    `result::text as json` +
    (announce
      ? `, current_setting('chat.changed', true) as changed, current_setting('chat.became_pending', true) as ` +
        `became_pending `
      : ` `) +
    `from public.${identifier(fn)}(${named.join(", ")}) as result`;
}

/** What a call deferred: its answer's `changed` and `became_pending`, text[] literals (null or empty: none). */
export interface Deferred {
  changed?: string | null;
  became_pending?: string | null;
}

/**
 * The second call that sends the hints a committed call deferred, or undefined when it deferred none.
 * Its own transaction, as the service role (send_announcements is the server's).
 */
export function announcementsText({ changed, became_pending }: Deferred): string | undefined {
  const none = (list: string | null | undefined) => !list || list === "{}";
  if (none(changed) && none(became_pending)) return undefined;
  return `select set_config('role', 'service_role', true); ` +
    `select private.send_announcements(${literal(changed || "{}")}::text[], ${
      literal(became_pending || "{}")
    }::text[])`;
}

/** A function or argument name as SQL text: a plain lower-case identifier, or a RangeError. */
function identifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new RangeError(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * A SQL literal, or null. `type` is the SQL type it is for: an array type takes PostgreSQL's array
 * input syntax (from an array of strings), jsonb takes JSON, anything else the value's text. Without
 * a type the value's shape decides (the tests' and the benchmark's own SQL).
 *
 * An escape-string literal, E'...', with every backslash and every quote doubled: correct by
 * construction, in one linear pass. PostgreSQL reads an E-string the same way whatever
 * standard_conforming_strings says, and doubled quotes do not depend on backslash_quote. In UTF-8
 * (the only encoding Supabase and this pool use) no byte of a multibyte character is ASCII, so no
 * character can hide a quote or a backslash. NUL is the one character SQL text cannot carry; the
 * request schemas refuse it, and it is refused here too rather than cut the query short.
 */
export function literal(value: unknown, type?: string): string {
  if (value === null) return "null";
  const asArray = type === undefined ? isTextArray(value) : type.endsWith("[]");
  if (asArray && !isTextArray(value, true)) {
    throw new RangeError(`a ${type ?? "text[]"} argument is an array of strings`);
  }
  const text = asArray
    ? arrayText(value as string[])
    : typeof value === "object" || type === "jsonb"
    ? JSON.stringify(value)
    : String(value);
  if (text.includes("\0")) throw new RangeError("a SQL literal cannot contain a NUL character");
  return "E'" + text.replace(/['\\]/g, "$&$&") + "'";
}

/** An array of strings (non-empty, unless `orEmpty`): without a declared type, a SQL array; any other array is JSON. */
function isTextArray(value: unknown, orEmpty = false): value is string[] {
  return Array.isArray(value) && (orEmpty || value.length > 0) && value.every((item) => typeof item === "string");
}

/** PostgreSQL's array input syntax: every element double-quoted, its `"` and `\` backslash-escaped. */
function arrayText(items: string[]): string {
  return "{" + items.map((item) => '"' + item.replace(/["\\]/g, "\\$&") + '"').join(",") + "}";
}
