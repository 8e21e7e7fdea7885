// What is wrong with a request, in words a client developer can act on: every message names the
// field and what to send instead ("chat_id must be a string, not a number"; "the body has an
// unknown field "extra": remove it (accepted: chat_id, message)"). The first problem becomes the
// 400's message, so supabase-js users see it; all of them are its `details`.
// Pure (zod only): schemas/ uses the same words where it checks a body in two steps.
import type { z } from "zod";

export interface Problem {
  /** Where, as dotted path ("message.parts.0.type"); empty for the whole body or query string. */
  path: string;
  /** What is wrong, said of that place: "must be a string, not a number". */
  message: string;
}

/** A 400's message and details for a failed parse; `where` names the whole input ("the body"). */
export function describeFailure(error: z.ZodError, where: string): { message: string; details: Problem[] } {
  const details: Problem[] = error.issues.slice(0, 20).map((issue) => ({
    path: issue.path.join("."),
    message: issue.message,
  }));
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more, listed in details)` : "";
  return { message: `${details[0].path || where} ${details[0].message}${more}`, details };
}

type Issue = z.core.$ZodRawIssue;

const types: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "an object",
  array: "an array",
  null: "null",
};

const formats: Record<string, string> = {
  datetime: "must be an ISO 8601 time with an offset, such as 2026-01-01T00:00:00Z",
  uuid: "must be a UUID, such as 123e4567-e89b-42d3-a456-426614174000",
};

/** What was sent instead: short values as themselves, others by their type. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  return types[typeof value] ?? typeof value;
}

const quoted = (values: readonly unknown[]) => values.map((value) => JSON.stringify(value)).join(", ");

function size(issue: { origin: string; inclusive?: boolean }, limit: unknown, most: boolean): string {
  const bound = issue.inclusive === false ? (most ? "less than" : "more than") : (most ? "at most" : "at least");
  const unit = issue.origin === "string" ? " characters" : issue.origin === "array" ? " items" : "";
  return `${bound} ${limit}${unit}`;
}

/** zod's error map (`safeParse(value, { error: explain })`): one issue, said of its field; undefined keeps zod's own. */
export function explain(issue: Issue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      // zod calls a present-but-anything field "nonoptional": it must be there, whatever its value.
      return issue.input === undefined
        ? `is required: send ${issue.expected === "nonoptional" ? "it" : types[issue.expected] ?? issue.expected}`
        : `must be ${types[issue.expected] ?? issue.expected}, not ${describe(issue.input)}`;
    case "unrecognized_keys": {
      const shape = (issue.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape;
      const accepted = shape ? ` (accepted: ${Object.keys(shape).join(", ")})` : "";
      return issue.keys.length === 1
        ? `has an unknown field ${quoted(issue.keys)}: remove it${accepted}`
        : `has unknown fields ${quoted(issue.keys)}: remove them${accepted}`;
    }
    case "invalid_value": {
      const allowed = issue.values.length === 1 ? quoted(issue.values) : `one of ${quoted(issue.values)}`;
      return issue.input === undefined ? `is required: send ${allowed}` : `must be ${allowed}`;
    }
    case "invalid_format":
      return formats[issue.format] ?? `must be a valid ${issue.format}`;
    case "too_big":
      return `must be ${size(issue, issue.maximum, true)}`;
    case "too_small":
      return issue.origin === "string" && issue.minimum === 1
        ? "must not be empty"
        : `must be ${size(issue, issue.minimum, false)}`;
    default:
      return undefined;
  }
}
