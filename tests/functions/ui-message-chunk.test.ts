// functions/_shared/ui-message-chunk.ts: a UI message stream chunk is accepted exactly when the AI SDK
// would accept it and it has no key its type does not define (AI SDK 5 clients parse chunks strictly
// and fail on an unknown key, though the SDK 6 parser lets one through). The SDK's own parser
// (`uiMessageChunkSchema` from "ai") is the reference; the chunks of real `streamText` turns are the
// examples. No database: the schema is pure.
import {
  createUIMessageStream,
  type ModelMessage,
  simulateReadableStream,
  stepCountIs,
  streamText,
  tool,
  type UIMessageChunk as SdkChunk,
  uiMessageChunkSchema,
} from "ai";
import { MockLanguageModelV3 } from "ai/test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { closesStream, type UIMessageChunk, uiMessageChunk } from "../../functions/_shared/ui-message-chunk.ts";
import { hostileString, hostileValue, unstorableStrings } from "../support/hostile.ts";
import { soak } from "../support/soak.ts";

/** The SDK's verdict on a value, from the parser its own clients use. */
async function sdkAccepts(value: unknown): Promise<boolean> {
  return (await uiMessageChunkSchema().validate!(value)).success;
}
const oursAccepts = (value: unknown) => uiMessageChunk.safeParse(value).success;

// ---------------------------------------------------------------------------------------------
// Real turns: every chunk the SDK emits is accepted
// ---------------------------------------------------------------------------------------------

type StreamPart = Awaited<ReturnType<MockLanguageModelV3["doStream"]>>["stream"] extends ReadableStream<infer T> ? T
  : never;

const finish = (unified: "stop" | "tool-calls"): StreamPart => ({
  type: "finish",
  finishReason: { unified, raw: unified },
  usage: {
    inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: 5, text: 5, reasoning: 0 },
  },
});
const providerMetadata = { mock: { cacheKey: 'k"$_\\', tokens: 3, nested: { list: [1, null, "é"] } } };

/** A model that answers its n-th call with `steps[n]`, streamed as a provider would; with no step left, it fails. */
function modelOf(steps: StreamPart[][]) {
  let call = 0;
  return new MockLanguageModelV3({
    doStream: () => {
      const chunks = steps[call++];
      if (!chunks) throw new Error("the model is unavailable");
      return Promise.resolve({ stream: simulateReadableStream({ chunks, chunkDelayInMs: 1 }) });
    },
  });
}

const tools = {
  readFile: tool({
    description: "Read a file",
    inputSchema: z.object({ path: z.string() }),
    metadata: { sandbox: "read-only" },
    execute: ({ path }) => Promise.resolve({ path, lines: 42 }),
  }),
  runCommand: tool({
    description: "Run a shell command",
    inputSchema: z.object({ command: z.string() }),
    execute: () => Promise.reject<string>(new Error("exit code 1: it's 'broken' \\ $_")),
  }),
  deleteFile: tool({
    description: "Delete a file, once the user approves",
    inputSchema: z.object({ path: z.string() }),
    needsApproval: true,
    execute: () => Promise.resolve({ deleted: true }),
  }),
};

/** The chunks of one turn's `toUIMessageStream()`, after two data parts of the application's own. */
async function chunksOfTurn({ steps, messages, stop }: {
  steps: StreamPart[][];
  messages?: ModelMessage[];
  /** The user presses stop as the first words arrive. */
  stop?: boolean;
}): Promise<SdkChunk[]> {
  const abort = new AbortController();
  const result = streamText({
    model: modelOf(steps),
    messages: messages ?? [{ role: "user", content: "Fix the build" }],
    tools,
    stopWhen: stepCountIs(3),
    maxRetries: 0,
    abortSignal: abort.signal,
    onChunk: ({ chunk }) => {
      if (stop && chunk.type === "text-delta") abort.abort(new Error("the user pressed stop"));
    },
    onError: () => {}, // the error reaches the stream as an `error` chunk; no need to log it
  });
  const stream = createUIMessageStream({
    execute: ({ writer }) => {
      writer.write({ type: "data-progress", id: "progress-1", data: { done: 1, of: 3, note: 'O\'Brien "$_"' } });
      writer.write({ type: "data-notice", data: "indexing…", transient: true });
      writer.merge(result.toUIMessageStream({
        sendSources: true,
        messageMetadata: ({ part }) =>
          part.type === "start" || part.type === "finish-step" ? { model: "mock", at: part.type } : undefined,
      }));
    },
  });
  const chunks: SdkChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const callingTools: StreamPart[] = [
  { type: "stream-start", warnings: [] },
  { type: "response-metadata", id: "response-1", modelId: "mock" },
  { type: "reasoning-start", id: "r", providerMetadata },
  { type: "reasoning-delta", id: "r", delta: "The build fails; " },
  { type: "reasoning-delta", id: "r", delta: "read the log first." },
  { type: "reasoning-end", id: "r" },
  { type: "text-start", id: "t" },
  { type: "text-delta", id: "t", delta: "Reading the log.", providerMetadata },
  { type: "text-end", id: "t" },
  { type: "source", sourceType: "url", id: "s1", url: 'https://example.com/ci?run=1&q="x"', title: "CI run" },
  { type: "source", sourceType: "url", id: "s2", url: "https://example.com/untitled" },
  { type: "source", sourceType: "document", id: "s3", mediaType: "text/plain", title: "build.log", filename: "b.log" },
  { type: "file", mediaType: "image/png", data: "iVBORw0KGgo=" },
  { type: "tool-input-start", id: "call-1", toolName: "readFile" },
  { type: "tool-input-delta", id: "call-1", delta: '{"path":' },
  { type: "tool-input-delta", id: "call-1", delta: '"build.log"}' },
  { type: "tool-input-end", id: "call-1" },
  { type: "tool-call", toolCallId: "call-1", toolName: "readFile", input: '{"path":"build.log"}' },
  { type: "tool-call", toolCallId: "call-2", toolName: "runCommand", input: '{"command":"npm test"}' },
  { type: "tool-call", toolCallId: "call-3", toolName: "readFile", input: '{"path":5}' },
  finish("tool-calls"),
];
const answering: StreamPart[] = [
  { type: "text-start", id: "t2" },
  { type: "text-delta", id: "t2", delta: "The test " },
  { type: "text-delta", id: "t2", delta: "fails on line 3." },
  { type: "text-end", id: "t2" },
  finish("stop"),
];
const askingApproval: StreamPart[] = [
  { type: "tool-call", toolCallId: "call-9", toolName: "deleteFile", input: '{"path":"build.log"}' },
  finish("tool-calls"),
];
/** The user said no to deleting the file: the next turn starts by reporting the denial. */
const deniedHistory: ModelMessage[] = [
  { role: "user", content: "Delete the log" },
  {
    role: "assistant",
    content: [
      { type: "tool-call", toolCallId: "call-9", toolName: "deleteFile", input: { path: "build.log" } },
      { type: "tool-approval-request", approvalId: "approval-1", toolCallId: "call-9" },
    ],
  },
  { role: "tool", content: [{ type: "tool-approval-response", approvalId: "approval-1", approved: false }] },
];

const turns = {
  "reasoning, text, sources, a file and three tool calls (one works, one throws, one has bad input)": () =>
    chunksOfTurn({ steps: [callingTools, answering] }),
  "a tool call that waits for the user's approval": () => chunksOfTurn({ steps: [askingApproval] }),
  "a tool call the user denied": () => chunksOfTurn({ steps: [answering], messages: deniedHistory }),
  "a turn the user stopped": () => chunksOfTurn({ steps: [answering], stop: true }),
  "a turn whose model fails": () => chunksOfTurn({ steps: [] }),
};

describe("every chunk the AI SDK emits for a real turn is accepted", () => {
  const seen = new Set<string>();

  for (const [turn, run] of Object.entries(turns)) {
    it(turn, async () => {
      const chunks = await run();
      expect(chunks.length).toBeGreaterThan(3);
      for (const chunk of chunks) {
        seen.add(chunk.type);
        const sent = JSON.parse(JSON.stringify(chunk)); // as stored and served: undefined fields are gone
        for (const value of [chunk, sent]) {
          const parsed = uiMessageChunk.safeParse(value);
          expect(parsed.error?.issues, JSON.stringify(chunk)).toBeUndefined();
          expect(parsed.data).toEqual(value);
          expect(await sdkAccepts(value)).toBe(true);
        }
      }
    });
  }

  it("together, the turns emit every kind of chunk a turn can", () => {
    expect([...seen].sort()).toEqual([
      "abort",
      "data-notice",
      "data-progress",
      "error",
      "file",
      "finish",
      "finish-step",
      "message-metadata",
      "reasoning-delta",
      "reasoning-end",
      "reasoning-start",
      "source-document",
      "source-url",
      "start",
      "start-step",
      "text-delta",
      "text-end",
      "text-start",
      "tool-approval-request",
      "tool-input-available",
      "tool-input-delta",
      "tool-input-error",
      "tool-input-start",
      "tool-output-available",
      "tool-output-denied",
      "tool-output-error",
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Generated chunks: ours accepts what the SDK accepts, minus unknown keys
// ---------------------------------------------------------------------------------------------

/** Any text: what quoting trips over, arbitrary UTF-16 (lone surrogates too) and NUL. */
const anyText = fc.oneof(
  hostileString(),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(...unstorableStrings),
);
const anyJson = fc.jsonValue({ maxDepth: 3 });
const providerMetadataValue = fc.dictionary(anyText, fc.dictionary(anyText, anyJson, { maxKeys: 3 }), { maxKeys: 3 });
const toolCallFields = {
  providerExecuted: fc.boolean(),
  providerMetadata: providerMetadataValue,
  toolMetadata: fc.dictionary(anyText, anyJson, { maxKeys: 3 }),
  dynamic: fc.boolean(),
};
const withProviderMetadata = { providerMetadata: providerMetadataValue };

interface ChunkSpec {
  required: Record<string, fc.Arbitrary<unknown>>;
  optional: Record<string, fc.Arbitrary<unknown>>;
}

/** Each type's fields, as the AI SDK 6 defines them (ai/src/ui-message-stream/ui-message-chunks.ts). */
const specs: Record<string, ChunkSpec> = {
  "text-start": { required: { id: anyText }, optional: withProviderMetadata },
  "text-delta": { required: { id: anyText, delta: anyText }, optional: withProviderMetadata },
  "text-end": { required: { id: anyText }, optional: withProviderMetadata },
  error: { required: { errorText: anyText }, optional: {} },
  "tool-input-start": {
    required: { toolCallId: anyText, toolName: anyText },
    optional: { inputEncoding: fc.constantFrom("json", "text"), ...toolCallFields, title: anyText },
  },
  "tool-input-delta": { required: { toolCallId: anyText, inputTextDelta: anyText }, optional: {} },
  "tool-input-available": {
    required: { toolCallId: anyText, toolName: anyText, input: anyJson },
    optional: { ...toolCallFields, title: anyText },
  },
  "tool-input-error": {
    required: { toolCallId: anyText, toolName: anyText, input: anyJson, errorText: anyText },
    optional: { ...toolCallFields, title: anyText },
  },
  "tool-approval-request": {
    required: { approvalId: anyText, toolCallId: anyText },
    optional: { approvalDescriptor: anyJson, inputSchemaInput: anyJson, signature: anyText },
  },
  "tool-output-available": {
    required: { toolCallId: anyText, output: anyJson },
    optional: { ...toolCallFields, preliminary: fc.boolean() },
  },
  "tool-output-error": { required: { toolCallId: anyText, errorText: anyText }, optional: toolCallFields },
  "tool-output-denied": { required: { toolCallId: anyText }, optional: {} },
  "reasoning-start": { required: { id: anyText }, optional: withProviderMetadata },
  "reasoning-delta": { required: { id: anyText, delta: anyText }, optional: withProviderMetadata },
  "reasoning-end": { required: { id: anyText }, optional: withProviderMetadata },
  "source-url": {
    required: { sourceId: anyText, url: anyText },
    optional: { title: anyText, ...withProviderMetadata },
  },
  "source-document": {
    required: { sourceId: anyText, mediaType: anyText, title: anyText },
    optional: { filename: anyText, ...withProviderMetadata },
  },
  file: { required: { url: anyText, mediaType: anyText }, optional: withProviderMetadata },
  "start-step": { required: {}, optional: {} },
  "finish-step": { required: {}, optional: {} },
  start: { required: {}, optional: { messageId: anyText, messageMetadata: anyJson } },
  finish: {
    required: {},
    optional: {
      finishReason: fc.constantFrom("stop", "length", "content-filter", "tool-calls", "error", "other"),
      messageMetadata: anyJson,
    },
  },
  abort: { required: {}, optional: { reason: anyText } },
  "message-metadata": { required: { messageMetadata: anyJson }, optional: {} },
};
const dataSpec: ChunkSpec = { required: { data: anyJson }, optional: { id: anyText, transient: fc.boolean() } };

/** The fields a chunk of this type may have here; undefined for a type this project refuses. */
function specOf(type: unknown): ChunkSpec | undefined {
  if (typeof type !== "string") return undefined;
  if (Object.hasOwn(specs, type)) return specs[type];
  return /^data-./s.test(type) && type.length <= 255 ? dataSpec : undefined;
}
const fieldsOf = (spec: ChunkSpec) => ["type", ...Object.keys(spec.required), ...Object.keys(spec.optional)];

/** A data part's type: "data-" and a name, hostile or plain. */
const dataType = fc.oneof(hostileString({ minLength: 1, maxLength: 200 }), fc.string({ minLength: 1 }))
  .map((name) => `data-${name}`);

function chunkOf(type: fc.Arbitrary<string>, spec: ChunkSpec): fc.Arbitrary<Record<string, unknown>> {
  const fields: Record<string, fc.Arbitrary<unknown>> = { type, ...spec.required, ...spec.optional };
  return fc.record(fields, { requiredKeys: ["type", ...Object.keys(spec.required)] });
}

/** A well-formed chunk of any type, with any subset of its optional fields. */
const validChunk: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  ...Object.entries(specs).map(([type, spec]) => chunkOf(fc.constant(type), spec)),
  chunkOf(dataType, dataSpec),
);

/** A key the chunk's type does not define: any text, or a field of another type, or one of Object's own. */
const extraKey = (chunk: Record<string, unknown>) =>
  fc.oneof(anyText, fc.constantFrom("__proto__", "constructor", "toString", "Type", "data", "id", "providerMetadata"))
    .filter((key) => !fieldsOf(specOf(chunk.type)!).includes(key));

const withExtraKey = validChunk.chain((chunk) =>
  fc.tuple(extraKey(chunk), hostileValue).map(([key, value]) => ({ ...chunk, [key]: value }))
);

/** A valid chunk with one thing wrong, or something that is no chunk at all. */
const mutatedChunk: fc.Arbitrary<unknown> = fc.oneof(
  withExtraKey,
  // a field missing
  validChunk.chain((chunk) =>
    fc.constantFrom(...Object.keys(chunk)).map((key) =>
      Object.fromEntries(Object.entries(chunk).filter(([k]) => k !== key))
    )
  ),
  // a field of the wrong type (or of the right one, by chance)
  validChunk.chain((chunk) =>
    fc.tuple(fc.constantFrom(...Object.keys(chunk)), hostileValue).map(([key, value]) => ({ ...chunk, [key]: value }))
  ),
  // another type, known, unknown or hostile, over the same fields
  validChunk.chain((chunk) =>
    fc.oneof(fc.constantFrom(...Object.keys(specs), "data-", "data", "Text-delta", "text-delta "), dataType, anyText)
      .map((type) => ({ ...chunk, type }))
  ),
  hostileValue,
  fc.anything(),
);

const runs = { numRuns: 300 * soak };

describe("generated chunks: ours accepts exactly what the SDK accepts, minus unknown keys", () => {
  it("a well-formed chunk of every type, with hostile text anywhere, is accepted by ours and by the SDK", async () => {
    await fc.assert(
      fc.asyncProperty(validChunk, async (chunk) => {
        expect(uiMessageChunk.safeParse(chunk).error?.issues).toBeUndefined();
        expect(await sdkAccepts(chunk)).toBe(true);
      }),
      runs,
    );
  });

  it("a chunk with a key its type does not define is refused, though the SDK 6 parser takes it", async () => {
    await fc.assert(
      fc.asyncProperty(withExtraKey, async (chunk) => {
        expect(oursAccepts(chunk)).toBe(false);
        expect(await sdkAccepts(chunk)).toBe(true);
      }),
      runs,
    );
  });

  it("any value is accepted exactly when the SDK accepts it and it has only its type's keys", async () => {
    await fc.assert(
      fc.asyncProperty(mutatedChunk, async (value) => {
        const sdk = await sdkAccepts(value);
        const ours = oursAccepts(value);
        if (ours) expect(sdk).toBe(true); // ours never takes what an SDK client would choke on
        const spec = typeof value === "object" && value !== null
          ? specOf((value as { type?: unknown }).type)
          : undefined;
        const onlyItsKeys = spec !== undefined && Object.keys(value as object).every((k) => fieldsOf(spec).includes(k));
        expect(ours).toBe(sdk && onlyItsKeys);
      }),
      { numRuns: 1000 * soak },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Refusals, and what closes a stream
// ---------------------------------------------------------------------------------------------

describe("chunks that are refused, with the reason", () => {
  const refusals: [string, unknown, string][] = [
    [
      "an extra key on a text-delta",
      { type: "text-delta", id: "t", delta: "x", extra: 1 },
      'Unrecognized key: "extra"',
    ],
    ["an unknown type", { type: "bogus", id: "t" }, 'has an unknown type "bogus": send one of "text-start"'],
    [
      "a finish with an unknown finishReason",
      { type: "finish", finishReason: "bogus" },
      '"finish" chunk whose finishReason',
    ],
    ["a text-delta without its delta", { type: "text-delta", id: "t" }, '"text-delta" chunk whose delta'],
    ["a start whose messageId is a number", { type: "start", messageId: 5 }, '"start" chunk whose messageId'],
    ['a data part named only "data-"', { type: "data-", data: 1 }, 'has an unknown type "data-"'],
    ["a data part whose type is over 255 characters", { type: `data-${"x".repeat(251)}`, data: 1 }, "<=255"],
    ["a data part with an extra key", { type: "data-weather", data: {}, city: "Oslo" }, 'Unrecognized key: "city"'],
    ["no object at all", "text-delta", "must be an object with a type"],
  ];
  for (const [what, value, message] of refusals) {
    it(what, () => {
      const parsed = uiMessageChunk.safeParse(value);
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0].message).toContain(message);
    });
  }
});

describe("closesStream: only a finish or an abort ends a stream", () => {
  const cases: [UIMessageChunk, boolean][] = [
    [{ type: "finish" }, true],
    [{ type: "finish", finishReason: "error" }, true],
    [{ type: "abort", reason: "the user pressed stop" }, true],
    [{ type: "error", errorText: "the model is unavailable" }, false],
    [{ type: "text-delta", id: "t", delta: "x" }, false],
    [{ type: "data-finish", data: null }, false],
  ];
  for (const [chunk, closes] of cases) {
    it(`${JSON.stringify(chunk)}: ${closes}`, () => expect(closesStream(uiMessageChunk.parse(chunk))).toBe(closes));
  }
});
