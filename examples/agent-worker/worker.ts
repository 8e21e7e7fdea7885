// npm run worker: an example agent worker that runs the whole loop on the public API, with supabase-js
// and the AI SDK. Wakes on pg_notify('chat_work') when it has a database URL to LISTEN on (the fast
// path) and polls every second anyway; claims pending chats; reads each chat's history; streams the
// turn, persisting the assistant message and logging each step; heartbeats every chat it holds;
// honours stop; finishes the run. Start several: claims never overlap, and a chat whose worker dies
// is recovered by another after STALE_AFTER.
//
// Settings (environment): SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY (default: the local stack's),
// WORKER_LISTEN_URL (a direct database URL for LISTEN; default the local stack's; "" to poll only),
// RUNNER_ID, WORKER_CONCURRENCY (4), HEARTBEAT_MS (15000), MOCK_CHUNK_DELAY_MS (20).
import { createClient, FunctionsHttpError } from "@supabase/supabase-js";
import type { UIMessage } from "ai";
import { hostname } from "node:os";
import postgres from "postgres";
import WebSocket from "ws";
import { apiKeys, apiUrl, databaseUrl } from "../../scripts/local-stack/config.ts";
import { runTurn } from "./agent.ts";

const env = process.env;
const settings = {
  url: env.SUPABASE_URL ?? apiUrl,
  serviceKey: env.SUPABASE_SERVICE_ROLE_KEY ?? (await apiKeys()).serviceRoleKey,
  listenUrl: env.WORKER_LISTEN_URL ?? databaseUrl,
  runnerId: env.RUNNER_ID ?? `worker-${hostname()}-${process.pid}`,
  concurrency: Number(env.WORKER_CONCURRENCY ?? 4),
  heartbeatMs: Number(env.HEARTBEAT_MS ?? 15_000),
  chunkDelayMs: Number(env.MOCK_CHUNK_DELAY_MS ?? 20),
};

const supabase = createClient(settings.url, settings.serviceKey, {
  auth: { persistSession: false, autoRefreshToken: false },
  // Node 20 has no WebSocket of its own; supabase-js builds its realtime client even when unused.
  realtime: { transport: WebSocket as never },
});

/** Calls a function; throws with the API's JSON error on failure. */
async function call<T>(name: string, body?: unknown): Promise<T> {
  const { data, error } = await supabase.functions.invoke(name, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined ? {} : { body: body as Record<string, unknown> }),
  });
  if (error instanceof FunctionsHttpError) {
    const { error: detail } = await (error.context as Response).json();
    throw new Error(`${name}: ${detail.code}: ${detail.message}`);
  }
  if (error) throw error;
  return data as T;
}

interface Claim {
  chat: { id: string };
  run: { id: string };
}
interface Held {
  abort: AbortController;
  stopped: boolean;
  lost: boolean;
}
const held = new Map<string, Held>();
const log = (fields: Record<string, unknown>) => console.log(JSON.stringify({ runner: settings.runnerId, ...fields }));

/** The chat's whole history, oldest first, paging back from the newest message. */
async function history(chatId: string): Promise<UIMessage[]> {
  const messages: UIMessage[] = [];
  let before = "";
  for (;;) {
    const page = await call<{ messages: { seq: number; message: UIMessage }[]; has_more: boolean }>(
      `get-messages?chat_id=${encodeURIComponent(chatId)}&limit=200${before}`,
    );
    messages.unshift(...page.messages.map((m) => m.message));
    if (!page.has_more) return messages;
    before = `&before_seq=${page.messages[0].seq}`;
  }
}

async function work({ chat, run }: Claim) {
  const state: Held = { abort: new AbortController(), stopped: false, lost: false };
  held.set(chat.id, state);
  log({ claimed: chat.id, run: run.id });
  let status: "completed" | "aborted" | "failed" = "completed";
  try {
    await runTurn({
      history: await history(chat.id),
      messageId: `${run.id}-reply`,
      signal: state.abort.signal,
      chunkDelayMs: settings.chunkDelayMs,
      onStep: async (message, step) => {
        await call("append-message", { chat_id: chat.id, message });
        await call("log-workflow-step", { run: { id: run.id, chat_id: chat.id }, steps: [step] });
      },
    });
  } catch (error) {
    status = state.stopped ? "aborted" : "failed";
    if (!state.abort.signal.aborted) log({ chat: chat.id, failed: String(error) });
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
  const result = await call<{ held: string[]; stop: string[] }>("heartbeat", {
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
    const { claims } = await call<{ claims: Claim[] }>("claim-chats", {
      runner_id: settings.runnerId,
      limit,
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
