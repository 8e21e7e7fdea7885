// The agent of the example worker: one AI SDK `streamText` turn over a chat's history, with a tool and
// two steps (call the tool, then answer). The model is the AI SDK's own mock (no network, no key):
// deterministic text, streamed in chunks like a real provider's. Swap `mockModel()` for a real model
// (e.g. a gateway model id) and nothing else changes.
import {
  convertToModelMessages,
  type LanguageModelUsage,
  simulateReadableStream,
  stepCountIs,
  streamText,
  tool,
  type UIMessage,
} from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { z } from "zod";

/** What a language model's stream carries (the provider protocol, below the AI SDK's own types). */
type StreamPart = Awaited<ReturnType<MockLanguageModelV3["doStream"]>>["stream"] extends ReadableStream<infer T> ? T
  : never;

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
});

/** Text of the last user message in a model prompt. */
function lastUserText(prompt: { role: string; content: unknown }[]): string {
  const message = prompt.findLast((m) => m.role === "user");
  const parts = Array.isArray(message?.content) ? message.content : [];
  return parts.map((p: { type?: string; text?: string }) => (p.type === "text" ? p.text : "")).join(" ").trim();
}

/**
 * A model that first calls `readFile` and, once the tool's result is in the prompt, answers the
 * user's last message. `chunkDelayMs` paces the stream (tests slow it down to kill a worker mid-turn).
 */
export function mockModel(chunkDelayMs = 20) {
  return new MockLanguageModelV3({
    provider: "mock",
    modelId: "mock-agent",
    doStream: ({ prompt }) => {
      const answering = prompt.at(-1)?.role === "tool";
      const question = lastUserText(prompt as { role: string; content: unknown }[]);
      const chunks: StreamPart[] = answering
        ? [
          { type: "text-start", id: "t" },
          ...`I read the file. Answer to "${question}": done.`.split(/(?<= )/).map((delta) => ({
            type: "text-delta" as const,
            id: "t",
            delta,
          })),
          { type: "text-end", id: "t" },
          { type: "finish", finishReason: { unified: "stop", raw: "end_turn" }, usage: usage(40, 12) },
        ]
        : [
          {
            type: "tool-call",
            toolCallId: `call-${prompt.length}`,
            toolName: "readFile",
            input: JSON.stringify({ path: "README.md" }),
          },
          { type: "finish", finishReason: { unified: "tool-calls", raw: "tool_use" }, usage: usage(30, 8) },
        ];
      return Promise.resolve({ stream: simulateReadableStream({ chunks, chunkDelayInMs: chunkDelayMs }) });
    },
  });
}

const tools = {
  readFile: tool({
    description: "Read a file of the repository",
    inputSchema: z.object({ path: z.string() }),
    execute: ({ path }) => Promise.resolve({ path, lines: 42 }),
  }),
};

export interface StepRecord {
  step_number: number;
  started_at: string;
  finished_at: string;
  finish_reason: string;
  raw_finish_reason?: string;
  /** What the step used, as the SDK reports it: log-workflow-step stores it and adds it to the totals. */
  usage: LanguageModelUsage;
  provider: string;
  model_id: string;
  tool_call_count: number;
}

/**
 * Runs one turn. After every step, `onStep` receives the assistant message so far (one UIMessage with
 * a stable id, rewritten in place step by step) and the step's timing, so the caller can persist
 * both before the next step starts.
 */
export async function runTurn({ history, messageId, signal, chunkDelayMs, onStep }: {
  history: UIMessage[];
  messageId: string;
  signal: AbortSignal;
  chunkDelayMs?: number;
  onStep: (message: UIMessage, step: StepRecord) => Promise<void>;
}): Promise<void> {
  const message: UIMessage = { id: messageId, role: "assistant", parts: [] };
  let stepStarted = new Date();
  let stepNumber = 0;
  const persisted: Promise<void>[] = [];

  const result = streamText({
    model: mockModel(chunkDelayMs),
    messages: await convertToModelMessages(history),
    tools,
    stopWhen: stepCountIs(2),
    abortSignal: signal,
    onStepFinish: async (step) => {
      message.parts.push({ type: "step-start" });
      for (const part of step.content) {
        if (part.type === "text") message.parts.push({ type: "text", text: part.text, state: "done" });
        if (part.type === "tool-result") {
          message.parts.push(
            {
              type: `tool-${part.toolName}` as "tool-readFile",
              toolCallId: part.toolCallId,
              state: "output-available",
              input: part.input,
              output: part.output,
            } as UIMessage["parts"][number],
          );
        }
      }
      const finished = new Date();
      const record: StepRecord = {
        step_number: ++stepNumber,
        started_at: stepStarted.toISOString(),
        finished_at: finished.toISOString(),
        finish_reason: step.finishReason,
        ...(step.rawFinishReason ? { raw_finish_reason: step.rawFinishReason } : {}),
        usage: step.usage,
        provider: step.model.provider,
        model_id: step.model.modelId,
        tool_call_count: step.toolCalls.length,
      };
      stepStarted = finished;
      const saved = onStep(structuredClone(message), record);
      persisted.push(saved);
      await saved;
    },
  });
  await result.consumeStream({ onError: (error) => void persisted.push(Promise.reject(error)) });
  await Promise.all(persisted);
  if (signal.aborted) throw signal.reason ?? new Error("aborted");
  if ((await result.steps).length === 0) throw new Error("the model produced no step");
}
