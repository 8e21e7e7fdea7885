// The agent of the example worker: one AI SDK `streamText` turn over a chat's history, with two tools
// and two steps (call a tool, then answer), handed out as the SDK's UI message stream: the chunks the
// worker forwards to followers and rebuilds the reply from. `runCommand` needs the user's approval
// (the SDK's needsApproval): the turn ends asking for it, and the next turn, once it is answered, runs
// the command (or records the denial) and answers, continuing the same message. The model is the AI
// SDK's own mock (no network, no key): deterministic text, streamed in chunks like a real provider's.
// Swap `mockModel()` for a real model (e.g. a gateway model id) and nothing else changes.
import {
  convertToModelMessages,
  type LanguageModelUsage,
  simulateReadableStream,
  stepCountIs,
  streamText,
  tool,
  type UIMessage,
  type UIMessageChunk,
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

/** A tool's result as the model's prompt carries it. */
type ToolResult = { type: string; toolName?: string; output?: { type?: string; value?: unknown; reason?: string } };

/** The text of the model's answer once a tool's result is in the prompt. */
function answerTo(question: string, result: ToolResult) {
  if (result.toolName !== "runCommand") return `I read the file. Answer to "${question}": done.`;
  if (result.output?.type === "execution-denied") {
    return `I did not run the command: ${result.output.reason ?? "you denied it"}.`;
  }
  const { command, output } = result.output?.value as { command: string; output: string };
  return `I ran ${command} and it printed: ${output}`;
}

/**
 * A model that first calls a tool (`runCommand` when the user's last message says `run: <command>`,
 * else `readFile`) and, once the tool's result is in the prompt, answers. `chunkDelayMs` paces the
 * stream (tests slow it down to kill a worker mid-turn).
 */
export function mockModel(chunkDelayMs = 20) {
  return new MockLanguageModelV3({
    provider: "mock",
    modelId: "mock-agent",
    doStream: ({ prompt }) => {
      const last = prompt.at(-1);
      const question = lastUserText(prompt as { role: string; content: unknown }[]);
      const result = last?.role === "tool"
        ? (last.content as ToolResult[]).findLast((part) => part.type === "tool-result")
        : undefined;
      const command = /run:\s*(.+)$/m.exec(question)?.[1].trim();
      const chunks: StreamPart[] = result
        ? [
          { type: "text-start", id: "t" },
          ...answerTo(question, result).split(/(?<= )/).map((delta) => ({
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
            ...(command
              ? { toolName: "runCommand", input: JSON.stringify({ command }) }
              : { toolName: "readFile", input: JSON.stringify({ path: "README.md" }) }),
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
  runCommand: tool({
    description: "Run a shell command in the sandbox",
    inputSchema: z.object({ command: z.string() }),
    // The turn stops here until the user approves or denies (respond-to-approval).
    needsApproval: true,
    // A sandbox would run it; the example says what would have run.
    execute: ({ command }) => Promise.resolve({ command, exitCode: 0, output: `(sandbox) ${command}: ok` }),
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

export interface Turn {
  /** The reply as the SDK's UI message stream; its `start` chunk carries the reply's message id. */
  chunks: AsyncIterable<UIMessageChunk>;
  /**
   * Step `n`'s record (0 for the first step). The SDK reports a step right after emitting its
   * `finish-step` chunk, so a caller that has read that chunk gets the record without waiting long.
   */
  step(n: number): Promise<StepRecord>;
  /** The errors the stream shows only as a masked text: its `error` chunks, a failed tool call's errorText. */
  errors: unknown[];
}

/**
 * Starts one turn over the chat's history. The reply streams as UI message chunks under `messageId`,
 * or under the id of the history's last message when that is the agent's, going on after a tool
 * approval (the SDK runs the approved calls, records the denied ones, then the model answers);
 * aborting `signal` ends the stream with an `abort` chunk.
 */
export async function startTurn({ history, messageId, signal, chunkDelayMs }: {
  history: UIMessage[];
  messageId: string;
  signal: AbortSignal;
  chunkDelayMs?: number;
}): Promise<Turn> {
  const records: StepRecord[] = [];
  const waiting = new Map<number, (record: StepRecord) => void>();
  const errors: unknown[] = [];
  let stepStarted = new Date();

  const result = streamText({
    model: mockModel(chunkDelayMs),
    // A stopped turn leaves a partial reply whose tool call may have no result: the model cannot take it.
    messages: await convertToModelMessages(history, { ignoreIncompleteToolCalls: true }),
    tools,
    stopWhen: stepCountIs(2),
    abortSignal: signal,
    onStepFinish: (step) => {
      const finished = new Date();
      const record: StepRecord = {
        step_number: step.stepNumber + 1,
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
      records[step.stepNumber] = record;
      waiting.get(step.stepNumber)?.(record);
    },
  });
  return {
    chunks: result.toUIMessageStream({
      // Going on with the history's last message (after a tool approval): the SDK then streams under its id.
      ...(history.at(-1)?.id === messageId ? { originalMessages: history } : {}),
      generateMessageId: () => messageId,
      onError: (error) => {
        errors.push(error);
        return "The agent failed.";
      },
    }),
    step: (n) => records[n] ? Promise.resolve(records[n]) : new Promise((resolve) => waiting.set(n, resolve)),
    errors,
  };
}
