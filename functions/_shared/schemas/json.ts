// The building blocks of every request schema: strings and JSON that PostgreSQL can store, ids, times.
import { z } from "zod";
import type { Json } from "../../../types/database.ts";

/** What PostgreSQL text and jsonb can store: no NUL character, no lone UTF-16 surrogate. */
export const storable = (s: string) => !s.includes("\u0000") && wellFormed(s);
// ES2024, which Deno and Node 20 have; the Node side's type check (tests import this file) targets ES2022.
const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();
export const storableMessage = "must not contain NUL characters or lone surrogates";

export const text = (max = 10_000) => z.string().max(max).refine(storable, storableMessage);
export const id = text(255).min(1);
export const uuid = z.uuid();
/** An ISO 8601 time with an explicit offset, as JSON carries timestamps; PostgreSQL has no year 0. */
export const timestamp = z.iso.datetime({ offset: true }).refine(
  (time) => !(Date.parse(time) < Date.parse("0001-01-01T00:00:00Z")), // not a time at all: the format says so
  "must be a time in year 1 or later",
);

/** A whole number in a query string ("20"), where every value arrives as text. */
export const queryInteger = (min: number, max: number) =>
  z.string().regex(/^-?\d+$/, "must be a whole number, such as 20").transform(Number).pipe(z.int().min(min).max(max));

const maxDepth = 64;

/** First reason `value` cannot be stored as jsonb, with where it was found; undefined if it can. */
function jsonProblem(value: unknown, path: (string | number)[] = [], depth = 0): JsonProblem | undefined {
  if (depth > maxDepth) return { path, message: `is nested deeper than ${maxDepth} levels` };
  if (typeof value === "string") return storable(value) ? undefined : { path, message: storableMessage };
  if (typeof value === "number") {
    return Number.isFinite(value) ? undefined : { path, message: "is a number out of range" };
  }
  if (value === null || typeof value === "boolean") return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], [...path, i], depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (!storable(key)) return { path, message: "has a key with NUL characters or lone surrogates" };
      const problem = jsonProblem(item, [...path, key], depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  return { path, message: "is not a JSON value" };
}
/** Where in a JSON value it cannot be stored, and why (validation.ts's Problem is a 400's detail). */
type JsonProblem = { path: (string | number)[]; message: string };

/** Refuses what jsonb cannot store (NUL, lone surrogates, numbers out of range, nesting past 64). */
export function refineJson(value: unknown, ctx: z.RefinementCtx) {
  const problem = jsonProblem(value);
  if (problem) ctx.addIssue({ code: "custom", ...problem });
}

/** Any JSON value PostgreSQL's jsonb accepts. */
export const json = z.custom<Json>().superRefine(refineJson);

/** A count that PostgreSQL's bigint holds and JSON numbers carry exactly. */
export const tokenCount = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
