// Hostile inputs: one list for the fuzz suite (tests/fuzz) and the security suite (tests/security).
//
// Random strings almost never end in `$_`, contain `$_0$`, or pair a backslash with a quote, which
// is why plain fast-check strings missed the dollar-quoting bug (a value ending in `$_` closed its
// own quote). These strings are built from the pieces SQL quoting, JSON escaping and text storage
// trip over, so every run tries many such combinations.
import fc from "fast-check";

/** The pieces: dollar-quote tags, quotes, escapes, comments, separators, digits, non-ASCII text. */
const pieces = [
  "$",
  "_",
  "$_",
  "$_$",
  "$_0$",
  "$$",
  "$1",
  "0",
  "1",
  "9",
  "'",
  "''",
  '"',
  "\\",
  "\\\\",
  "\\'",
  "E'",
  "U&'",
  "\\u0041",
  "\\x41",
  "\\000",
  "\\n",
  "%s",
  "%",
  ";",
  "--",
  "/*",
  "*/",
  ":name",
  "?",
  " ",
  "\n",
  "\r\n",
  "\t",
  "é",
  "日本",
  "🙂",
  "\u202e",
  "\u00a0",
  "\u2028",
  "ǅ",
];

/**
 * Strings that once broke the API or were built to: each ends, starts or is made of something a
 * quoting scheme can get wrong. Every one is storable (no NUL, no lone surrogate).
 */
export const hostileStrings: readonly string[] = [
  "x$_",
  "$_",
  "x$_0",
  "x$_9$",
  "$_$",
  "$_$x$_$",
  "$$",
  "$",
  "'",
  "''",
  "x'",
  "\\",
  "x\\",
  "\\'",
  "'\\",
  "E'\\''",
  "'; select pg_sleep(10); --",
  "$_$; select 1; --",
  "\\u0000",
  "\\x00",
  "line\nbreak",
  "🙂$_",
  "日本$_$語",
];

/** Values PostgreSQL cannot store in text or jsonb, and values at the edges of JSON numbers. */
export const unstorableStrings: readonly string[] = ["\u0000", "a\u0000b", "\ud800", "\udfff", "x\ud800y"];

/** A string rich in what quoting gets wrong, of `minLength` to `maxLength` characters. */
export function hostileString({ minLength = 0, maxLength = 200 } = {}): fc.Arbitrary<string> {
  const built = fc.array(fc.constantFrom(...pieces), { maxLength: 24 }).map((parts) => parts.join(""));
  const long = fc.tuple(fc.constantFrom(...pieces), fc.integer({ min: 50, max: 2000 }))
    .map(([piece, times]) => piece.repeat(times));
  return fc.oneof(
    { weight: 6, arbitrary: built },
    { weight: 2, arbitrary: fc.constantFrom(...hostileStrings) },
    { weight: 1, arbitrary: fc.tuple(built, fc.constantFrom(...hostileStrings)).map(([a, b]) => a + b) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
    { weight: 1, arbitrary: long },
  ).map((text) => cut(text, maxLength)).filter((text) => text.length >= minLength);
}

/** At most `length` UTF-16 units (what zod's max counts), never half a surrogate pair. */
function cut(text: string, length: number): string {
  const head = text.slice(0, length);
  return /[\ud800-\udbff]$/.test(head) ? head.slice(0, -1) : head;
}

/** Any value a field might be sent instead of the right one: wrong types, unstorable text, edge numbers. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString(),
  fc.string({ unit: "binary" }),
  fc.constantFrom(...unstorableStrings, "x".repeat(300), "", " ", "null", "1e400"),
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 1, -0, 1e308),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue(), { maxLength: 5 }),
  fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
);
