// npm run worker: an example agent worker that runs the whole loop on the public API, with supabase-js
// and the AI SDK. Wakes on pg_notify('chat_work') when it has a database URL to LISTEN on (the fast
// path) and polls every second anyway; claims pending chats; reads each chat's history; streams the
// turn's UI message chunks to followers (append-chunks), storing the reply rebuilt from them after
// every step and at the end, and logging each step; heartbeats every chat it holds; honours stop;
// finishes the run. Start several: claims never overlap, and a chat whose worker dies is recovered by
// another after STALE_AFTER.
//
// Settings (environment): SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY (default: the local stack's),
// WORKER_LISTEN_URL (a direct database URL for LISTEN; default the local stack's; "" to poll only),
// RUNNER_ID, WORKER_MODELS (",demo-model,mock-agent": the models whose chats it takes, empty for a chat
// without a model), WORKER_CONCURRENCY (4), HEARTBEAT_MS (15000), STREAM_FLUSH_MS (50: how long a chunk may
// wait before its batch goes out), MOCK_CHUNK_DELAY_MS (20).
import { createClient, FunctionsFetchError, FunctionsHttpError, FunctionsRelayError } from "@supabase/supabase-js";
import type { UIMessage, UIMessageChunk } from "ai";
import { hostname } from "node:os";
import postgres from "postgres";
import WebSocket from "ws";
import { messageFromChunks } from "../../client/ui-messages.ts";
import type * as Api from "../../functions/_shared/schemas/mod.ts";
import { apiKeys, apiUrl, databaseUrl } from "../../scripts/local-stack/config.ts";
import { startTurn } from "./agent.ts";

const env = process.env;
const settings = {
  url: env.SUPABASE_URL ?? apiUrl,
  serviceKey: env.SUPABASE_SERVICE_ROLE_KEY ?? (await apiKeys()).serviceRoleKey,
  listenUrl: env.WORKER_LISTEN_URL ?? databaseUrl,
  runnerId: env.RUNNER_ID ?? `worker-${hostname()}-${process.pid}`,
  concurrency: Number(env.WORKER_CONCURRENCY ?? 4),
  heartbeatMs: Number(env.HEARTBEAT_MS ?? 15_000),
  flushMs: Number(env.STREAM_FLUSH_MS ?? 50),
  chunkDelayMs: Number(env.MOCK_CHUNK_DELAY_MS ?? 20),
  // The models this worker runs (its mock stands in for each): chats of other models are other workers'.
  // An empty name is a chat without a model.
  models: (env.WORKER_MODELS ?? ",demo-model,mock-agent").split(",").map((model) => model.trim() || null),
};

const supabase = createClient(settings.url, settings.serviceKey, {
  auth: { persistSession: false, autoRefreshToken: false },
  // Node 20 has no WebSocket of its own; supabase-js builds its realtime client even when unused.
  realtime: { transport: WebSocket as never },
});

/** An error answer of the API (`{ error: { code, message, details? } }`), with its HTTP status. */
class ApiError extends Error {
  constructor(
    name: string,
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(`${name}: ${code}: ${message}`);
  }
}

/** What each function the worker calls takes and answers: the API's own schemas. */
interface Calls {
  "claim-chats": [Api.ClaimChatsRequest, Api.ClaimChatsResponse];
  heartbeat: [Api.HeartbeatRequest, Api.HeartbeatResponse];
  "append-chunks": [Api.AppendChunksRequest, Api.AppendChunksResponse];
  "append-message": [Api.AppendMessageRequest, Api.AppendMessageResponse];
  "log-workflow-step": [Api.LogWorkflowStepRequest, Api.LogWorkflowStepResponse];
}

/** Calls a function; throws an ApiError with the API's JSON error on failure. */
function call<Name extends keyof Calls>(name: Name, body: Calls[Name][0]): Promise<Calls[Name][1]> {
  return invoke(name, body);
}

/** A page of a chat's messages, oldest first. */
function getMessages(chatId: string, beforeSeq?: number): Promise<Api.GetMessagesResponse> {
  const before = beforeSeq === undefined ? "" : `&before_seq=${beforeSeq}`;
  return invoke(`get-messages?chat_id=${encodeURIComponent(chatId)}&limit=200${before}`);
}

async function invoke<T>(name: string, body?: unknown): Promise<T> {
  const { data, error } = await supabase.functions.invoke(name, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined ? {} : { body: body as Record<string, unknown> }),
  });
  if (error instanceof FunctionsHttpError) {
    const response = error.context as Response;
    // A gateway in front of the functions may answer a 5xx that is not the API's JSON.
    const { error: detail } = await response.json().catch(() => ({
      error: { code: "http", message: `HTTP ${response.status}` },
    }));
    throw new ApiError(name, response.status, detail.code, detail.message, detail.details);
  }
  if (error) throw error;
  return data as T;
}

interface Held {
  abort: AbortController;
  stopped: boolean;
  lost: boolean;
}
const held = new Map<string, Held>();
const log = (fields: Record<string, unknown>) => console.log(JSON.stringify({ runner: settings.runnerId, ...fields }));

/**
 * Retries a call that failed on the way (the network, a 5xx such as a restarting database) for up to
 * 30 s, so that a reply survives a database restart. Only for calls that are safe to repeat: a batch of
 * chunks, a rewrite of the assistant message.
 */
async function retrying<T>(state: Held, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (let delay = 100;; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await attempt();
    } catch (error) {
      const transient = error instanceof FunctionsFetchError || error instanceof FunctionsRelayError ||
        (error instanceof ApiError && error.status >= 500);
      if (!transient || state.lost || Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** A batch goes out once this many chunks wait, without waiting for STREAM_FLUSH_MS. */
const batchAt = 64;
/** append-chunks takes at most this many chunks a request. */
const maxBatch = 500;

/**
 * A reply's chunks on their way to append-chunks: batched, one request in flight, every batch starting
 * where the server says its copy of the stream ends. The server's answer also carries the user's stop.
 */
class ReplyStream {
  /** Every chunk of the reply, kept: after a database crash the server may ask for all of them again. */
  readonly chunks: UIMessageChunk[] = [];
  /** How many of them the server holds (its `next`): the next batch starts there. */
  accepted = 0;
  /** Why forwarding failed for good: the turn is aborted and `flush` throws it. */
  #failure: unknown;
  #inFlight: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly chatId: string,
    readonly messageId: string,
    readonly state: Held,
    readonly continues?: UIMessage,
  ) {}

  push(chunk: UIMessageChunk): void {
    this.chunks.push(chunk);
    this.#schedule();
  }

  /** Settles once the server holds every chunk pushed so far, or the chat is lost. */
  async flush(): Promise<void> {
    while (this.#failure === undefined && !this.state.lost && this.accepted < this.chunks.length) await this.#send();
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** The reply as the chunks the server holds rebuild it: what its followers have seen. */
  message(): Promise<UIMessage> {
    return messageFromChunks(this.chunks.slice(0, this.accepted), this.continues);
  }

  #schedule(): void {
    if (this.#inFlight || this.#failure !== undefined || this.state.lost || this.accepted >= this.chunks.length) return;
    if (this.chunks.length - this.accepted >= batchAt) void this.#send();
    else this.#timer ??= setTimeout(() => void this.#send(), settings.flushMs);
  }

  #send(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#inFlight ??= this.#sendBatch()
      .catch((error) => {
        this.#failure = error;
        this.state.abort.abort();
      })
      .finally(() => {
        this.#inFlight = undefined;
        this.#schedule();
      });
  }

  async #sendBatch(): Promise<void> {
    // A batch whose timer was set before the chat was lost.
    if (this.state.lost) return;
    const from = this.accepted;
    const chunks = this.chunks.slice(from, from + maxBatch);
    try {
      const answer = await retrying(this.state, () =>
        call("append-chunks", {
          chat_id: this.chatId,
          runner_id: settings.runnerId,
          message_id: this.messageId,
          from,
          chunks,
        }));
      this.accepted = answer.next;
      if (answer.stop && !this.state.stopped) {
        // The SDK answers the abort with an `abort` chunk: it goes out in the last batch.
        this.state.stopped = true;
        this.state.abort.abort();
      }
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 409) throw error;
      if (error.code === "not_held" || error.code === "stream_closed") {
        this.state.lost = true;
        this.state.abort.abort();
        return;
      }
      const next = (error.details as { next?: number } | undefined)?.next;
      // A gap or a conflict: resend from where the server's copy ends (0 if a database crash lost it).
      if ((error.code !== "chunk_gap" && error.code !== "chunk_conflict") || next === undefined || next === from) {
        throw error;
      }
      this.accepted = next;
    }
  }
}

/**
 * The chat's whole (visible) history, oldest first, paging back from the newest message. Only an
 * approval the API recorded is one: an assistant message the owner wrote (a client-side agent's) has
 * its approved tool calls treated as denied, so nothing runs on a user's say-so alone.
 */
async function history(chatId: string): Promise<UIMessage[]> {
  const messages: UIMessage[] = [];
  let beforeSeq: number | undefined;
  for (;;) {
    const page = await getMessages(chatId, beforeSeq);
    messages.unshift(
      ...page.messages.map((m) => (m.written_by === "owner" ? unapproved(m.message) : m.message) as UIMessage),
    );
    if (!page.has_more) return messages;
    beforeSeq = page.messages[0].seq;
  }
}

type Part = Api.UIMessage["parts"][number] & { state?: string; approval?: { id: string } };
function unapproved(message: Api.UIMessage): Api.UIMessage {
  return {
    ...message,
    parts: message.parts.map((part: Part) =>
      part.state === "approval-responded"
        ? {
          ...part,
          state: "output-denied",
          approval: { id: part.approval!.id, approved: false, reason: "not approved through the API" },
        }
        : part
    ),
  };
}

/** True when a message asks the agent to go on: a tool call whose approval was answered. */
const answeredApprovals = (message: UIMessage | undefined) =>
  message?.role === "assistant" && message.parts.some((part) => "state" in part && part.state === "approval-responded");

/**
 * Runs one turn: streams the reply's chunks to followers and stores the reply after every step and at
 * the end, each time exactly as the chunks the server holds rebuild it (after a stop: the partial
 * reply followers saw). Returns early once the chat is lost; throws when the agent failed.
 */
async function streamTurn(chatId: string, runId: string, state: Held): Promise<void> {
  const messages = await history(chatId);
  // After a tool approval the agent goes on with its message: same id, the new chunks added to it.
  const continues = answeredApprovals(messages.at(-1)) ? messages.at(-1) : undefined;
  const messageId = continues?.id ?? `${runId}-reply`;
  const turn = await startTurn({
    history: messages,
    messageId,
    signal: state.abort.signal,
    chunkDelayMs: settings.chunkDelayMs,
  });
  const reply = new ReplyStream(chatId, messageId, state, continues);
  const store = async () => {
    await reply.flush();
    if (state.lost) return false;
    // The SDK's UIMessage type allows any role and metadata; a reply is the assistant's, JSON throughout.
    const message = await reply.message() as Api.UIMessage;
    const body = { chat_id: chatId, runner_id: settings.runnerId, message };
    await retrying(state, () => call("append-message", body)).catch((error) => {
      if (!(error instanceof ApiError && error.code === "not_held")) throw error;
      state.lost = true;
    });
    return !state.lost;
  };
  let steps = 0;
  for await (const chunk of turn.chunks) {
    if (state.lost) return;
    reply.push(chunk);
    if (chunk.type === "finish-step") {
      if (!await store()) return;
      await call("log-workflow-step", {
        run: { id: runId, chat_id: chatId },
        runner_id: settings.runnerId,
        steps: [await turn.step(steps++)],
      });
    }
  }
  if (!await store()) return;
  // The stream's error chunks carry a masked text; the log gets the errors themselves.
  if (reply.chunks.some((chunk) => chunk.type === "error")) {
    throw new Error(`the agent failed: ${turn.errors.map(String).join("; ")}`);
  }
}

async function work({ chat, run }: Api.ClaimChatsResponse["claims"][number]) {
  const state: Held = { abort: new AbortController(), stopped: false, lost: false };
  held.set(chat.id, state);
  log({ claimed: chat.id, run: run.id });
  let status: "completed" | "aborted" | "failed";
  try {
    await streamTurn(chat.id, run.id, state);
    status = state.stopped ? "aborted" : "completed";
  } catch (error) {
    status = state.stopped ? "aborted" : "failed";
    if (!state.lost) log({ chat: chat.id, failed: String(error) });
  } finally {
    held.delete(chat.id);
  }
  // A chat recovered by another worker is no longer ours to finish: stale recovery failed our run.
  if (state.lost) return log({ lost: chat.id, run: run.id });
  await call("log-workflow-step", {
    run: { id: run.id, chat_id: chat.id },
    finish: { status, finished_at: new Date().toISOString() },
  });
  log({ finished: chat.id, run: run.id, status });
}

/** One heartbeat for every chat this worker holds: drops lost chats, stops stopped ones. */
async function heartbeat() {
  // The turns asked about: a turn that ends (and a new claim of its chat) while the call is in
  // flight is not judged by an answer about the old one.
  const asked = [...held];
  if (asked.length === 0) return;
  const result = await call("heartbeat", {
    runner_id: settings.runnerId,
    chat_ids: asked.map(([chatId]) => chatId),
  });
  for (const [chatId, state] of asked) {
    if (held.get(chatId) !== state) continue;
    if (!result.held.includes(chatId)) {
      state.lost = true;
      state.abort.abort();
    } else if (result.stop.includes(chatId) && !state.stopped) {
      state.stopped = true;
      state.abort.abort();
    }
  }
}

let claiming = false;
let wokenWhileClaiming = false;
/** Claims as many pending chats as there are free slots (only `chatIds` when a notification named them). */
async function claim(chatIds?: string[]) {
  if (claiming) return void (wokenWhileClaiming = true);
  if (held.size >= settings.concurrency) return;
  claiming = true;
  try {
    const limit = settings.concurrency - held.size;
    const { claims } = await call("claim-chats", {
      runner_id: settings.runnerId,
      limit,
      models: settings.models,
      ...(chatIds ? { chat_ids: chatIds } : {}),
    });
    for (const claimed of claims) void work(claimed).catch((error) => log({ error: String(error) }));
  } catch (error) {
    log({ claim_failed: String(error) });
  } finally {
    claiming = false;
    if (wokenWhileClaiming) {
      wokenWhileClaiming = false;
      void claim();
    }
  }
}

if (settings.listenUrl) {
  const listener = postgres(settings.listenUrl, { max: 1, onnotice: () => {} });
  await listener.listen("chat_work", (chatId) => void claim([chatId]), () => void claim())
    .catch((error) => log({ listen_failed: String(error), polling: true }));
}
setInterval(() => void claim(), 1000);
setInterval(() => void heartbeat().catch((error) => log({ heartbeat_failed: String(error) })), settings.heartbeatMs);
log({ started: true, url: settings.url, concurrency: settings.concurrency });
void claim();
