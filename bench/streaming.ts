// Workload 9: live streams. A worker forwards its reply's UI message chunks with append-chunks; followers
// get them as follow-chat's chunk events, the AI SDK's DefaultChatTransport through the chat endpoint.
//
// 1. Fan-out: T turns streaming at once, each played by a synthetic worker in this process (its own
//    chat: create-chat as a user, append-message, claim-chats as its runner), posting a batch of 1 to 3
//    text-delta chunks every 50 ms on a fixed schedule, for 5 s; two followers per turn and 100 more on
//    turn 0. Every delta's text starts with a sequence number ("#123 "), whose emit time (just before its
//    batch's POST) the benchmark keeps: a follower's receipt of the chunk minus that time is the latency.
// 2. Write cost: CPU per append-chunks batch (3 chunks, on held chats) against per append-message (a
//    user message with the owner's token, as in the append part's CPU table), the same client loop in
//    this process driving 16 writers for BENCH_SECONDS each.
// 3. Time to first token: the example worker (a real process, MOCK_CHUNK_DELAY_MS=0) and a
//    DefaultChatTransport client: from sendMessages to the first text-delta chunk, turn after turn.
// 4. Stop to idle: the example worker with MOCK_CHUNK_DELAY_MS=50; once the reply has streamed a few
//    deltas, stop-chat (as the user), then the chat's status read in SQL every 10 ms until it is idle.
// 5. Storing the stream: append_chunks' database cost with pgbench sending the function's exact call
//    text, with the tables as they are (unlogged, a row per batch), made logged, and a row per chunk
//    (each chunk appended as its own batch). docs/performance.md, "Storing the stream".
//
// Only on the benchmark's own cluster: it settles every chat, spawns workers and alters the tables.
import { DefaultChatTransport, type UIMessage, type UIMessageChunk } from "ai";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import os from "node:os";
import { callText } from "../functions/_shared/call-text.ts";
import { apiKeys, projectRoot, userJwt } from "../scripts/local-stack/config.ts";
import type { Sql } from "../scripts/local-stack/database.ts";
import { type Bench, makeChats, oneQuery } from "./append.ts";
import { call, caughtUp, claimsOf, follow, type Follower, now, type Received, sleep, textMessage } from "./client.ts";
import { type CpuPerRequest, measureCpu, type Measured, medianCpu } from "./cpu.ts";
import {
  type LoadResult,
  median,
  medianLoad,
  medianPercentiles,
  type Percentiles,
  percentiles,
  pgbench,
} from "./tools.ts";

/** A synthetic worker's batch interval (the example worker's STREAM_FLUSH_MS). */
const batchMs = 50;
/** How long every turn of the fan-out streams. */
const fanOutSeconds = 5;
/** The fan-out's followers: this many per turn, and `extraFollowers` more on turn 0. */
const followersPerTurn = 2, extraFollowers = 100;
/** Concurrent writers in the write-cost and storage runs. */
export const writers = 16;

type Chunk = Record<string, string>;

/** A chat held by a runner, with its reply's stream open (start and text-start sent): `next` is where it ends. */
interface HeldTurn {
  chatId: string;
  runnerId: string;
  messageId: string;
  next: number;
}

/** `count` chats of a new account, each with a user message and claimed by `runnerId`, through the API. */
async function holdTurns(bench: Bench, prefix: string, count: number, runnerId: string) {
  const { serviceRoleKey } = await apiKeys();
  const token = await userJwt(crypto.randomUUID(), 24 * 3600);
  const turns: HeldTurn[] = [];
  for (let i = 0; i < count; i += 10) {
    turns.push(
      ...await Promise.all(Array.from({ length: Math.min(10, count - i) }, async (_, j) => {
        const chatId = `${prefix}${i + j}`;
        await call(bench.apiUrl, "create-chat", token, { session: { title: "benchmark" }, chat: { id: chatId } });
        await call(bench.apiUrl, "append-message", token, {
          chat_id: chatId,
          message: textMessage(`${chatId}-u`, "user", "stream, please"),
        });
        const { claims } = await call<{ claims: unknown[] }>(bench.apiUrl, "claim-chats", serviceRoleKey, {
          runner_id: runnerId,
          chat_ids: [chatId],
        });
        if (claims.length !== 1) throw new Error(`claim-chats did not hand ${runnerId} chat ${chatId}`);
        return { chatId, runnerId, messageId: `${chatId}-reply`, next: 0 };
      })),
    );
  }
  return { token, serviceRoleKey, turns };
}

/** Posts a batch after the turn's last chunk; the turn then ends where the server says. */
async function append(bench: Bench, serviceRoleKey: string, turn: HeldTurn, chunks: Chunk[]): Promise<void> {
  const { next } = await call<{ next: number }>(bench.apiUrl, "append-chunks", serviceRoleKey, {
    chat_id: turn.chatId,
    runner_id: turn.runnerId,
    message_id: turn.messageId,
    from: turn.next,
    chunks,
  });
  if (next !== turn.next + chunks.length) throw new Error(`append-chunks: ${turn.messageId} ends at ${next}`);
  turn.next = next;
}

const openStream = (bench: Bench, key: string, turn: HeldTurn) =>
  append(bench, key, turn, [{ type: "start", messageId: turn.messageId }, { type: "text-start", id: "t" }]);

/** Deletes the streams of chats named `<prefix>...` (their chunks go with them). */
const dropStreams = (sql: Sql, prefix: string) => sql`delete from chat_streams where chat_id like ${prefix + "%"}`;

/** The chunks of every stream of chats named `<prefix>...` after their first two (start, text-start). */
const storedChunks = async (sql: Sql, prefix: string) =>
  (await sql`select coalesce(sum(next_index - 2), 0)::int as n from chat_streams where chat_id like ${prefix + "%"}`)[0]
    .n as number;

/** CPU per request as cpu.ts measures it, with this process (the client loop) taken out of `other`. */
function measureWithClient(measured: Measured | undefined): (requests: number) => CpuPerRequest {
  const cpu = measureCpu(measured);
  const before = process.cpuUsage();
  return (requests) => {
    const spent = cpu(requests);
    const { user, system } = process.cpuUsage(before);
    const client = Math.round((user + system) / Math.max(requests, 1));
    return { ...spent, client, other: spent.other - client };
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Fan-out
// ---------------------------------------------------------------------------------------------

/** A chunk event's index and type, and a text-delta's sequence number (its text starts "#123 "). */
function chunkOf(e: Received) {
  const { index, chunk } = JSON.parse(e.data) as { index: number; chunk: { type: string; delta?: string } };
  const seq = chunk.type === "text-delta" ? /^#(\d+) /.exec(chunk.delta ?? "")?.[1] : undefined;
  return { index, type: chunk.type, seq: seq === undefined ? undefined : Number(seq) };
}

/** The follower has received its turn's finish chunk. */
const finished = (received: Received[]) => received.some((e) => e.event === "chunk" && chunkOf(e).type === "finish");

/** Busy cores over a run (of the machine's `os.cpus().length`), and the parts of it that were measured apart. */
export interface Cores {
  total: number;
  functions?: number;
  postgres?: number;
  /** This process: the synthetic workers and every follower. */
  bench: number;
  /** The rest: the kernel's network work, and whatever else the machine ran (another user's tests). */
  other: number;
}

export interface FanOutPoint {
  turns: number;
  followers: number;
  /** The sending phase, s. */
  seconds: number;
  /** Text batches sent per second, against the offered 20 per turn (a late batch goes at once, not skipped). */
  batchesPerSecond: number;
  offeredPerSecond: number;
  /** append-chunks as the synthetic workers saw it. */
  append: Percentiles;
  /** A text-delta's emit (just before its batch's POST) to its receipt by a follower. */
  latency: Percentiles;
  /** Chunk events all followers received (start to finish). */
  chunksReceived: number;
  /** Chunks of its turn's stream a follower never received, received twice, or received after a later one. */
  lost: number;
  duplicated: number;
  outOfOrder: number;
  cores: Cores;
  /** The 1-minute load average when the run ended. */
  load: number;
}

export async function streamFanOut(bench: Bench, turns: number, label: string): Promise<FanOutPoint> {
  const prefix = `sfan-${label}-`;
  const { token, serviceRoleKey: key, turns: held } = await holdTurns(bench, prefix, turns, `bench-${label}`);
  const followerTurns = held.flatMap((_, t) => Array(followersPerTurn + (t === 0 ? extraFollowers : 0)).fill(t));
  const followers: Follower[] = [];
  try {
    for (let i = 0; i < followerTurns.length; i += 50) {
      followers.push(
        ...await Promise.all(
          followerTurns.slice(i, i + 50).map((t) => follow(bench.apiUrl, held[t].chatId, token)),
        ),
      );
    }
    const ready = await Promise.all(followers.map((f) => f.until(caughtUp, 30_000)));
    if (!ready.every(Boolean)) throw new Error("not every follower caught up");
    await Promise.all(held.map((turn) => openStream(bench, key, turn)));

    const emitted = new Map<number, number>();
    const appendLatencies: number[] = [];
    let seq = 0, batches = 0, lastAnswer = 0;
    const cpu = measureWithClient(bench.measured);
    const started = now(), until = started + fanOutSeconds * 1000;
    await Promise.all(held.map(async (turn, t) => {
      // Each turn on its own fixed schedule, the turns spread over the interval.
      for (let i = 0;; i++) {
        const due = started + ((t / turns) + i) * batchMs;
        if (due >= until) return;
        await sleep(due - now());
        const chunks = Array.from(
          { length: 1 + (i + t) % 3 },
          () => ({ type: "text-delta", id: "t", delta: `#${++seq} ` }),
        );
        const at = now();
        for (let s = seq - chunks.length + 1; s <= seq; s++) emitted.set(s, at);
        await append(bench, key, turn, chunks);
        lastAnswer = now();
        appendLatencies.push(lastAnswer - at);
        batches++;
      }
    }));
    const seconds = (lastAnswer - started) / 1000;
    const spent = cpu(1);
    const cores = (us: number | undefined) => us === undefined ? undefined : Math.round(us / 1e4 / seconds) / 100;

    await Promise.all(
      held.map((turn) => append(bench, key, turn, [{ type: "text-end", id: "t" }, { type: "finish" }])),
    );
    await Promise.all(followers.map((f) => f.until(finished, 20_000)));

    const latencies: number[] = [];
    let received = 0, lost = 0, duplicated = 0, outOfOrder = 0;
    followers.forEach((f, i) => {
      const length = held[followerTurns[i]].next;
      const seen = new Set<number>();
      let highest = -1;
      for (const e of f.received.filter((e) => e.event === "chunk")) {
        const { index, seq } = chunkOf(e);
        received++;
        if (seen.has(index)) duplicated++;
        else if (index < highest) outOfOrder++;
        seen.add(index);
        highest = Math.max(highest, index);
        const emit = seq === undefined ? undefined : emitted.get(seq);
        if (emit !== undefined) latencies.push(e.at - emit);
      }
      lost += [...Array(length).keys()].filter((index) => !seen.has(index)).length;
    });
    return {
      turns,
      followers: followers.length,
      seconds: Math.round(seconds * 100) / 100,
      batchesPerSecond: Math.round(batches / seconds),
      offeredPerSecond: Math.round(turns * 1000 / batchMs),
      append: percentiles(appendLatencies),
      latency: percentiles(latencies),
      chunksReceived: received,
      lost,
      duplicated,
      outOfOrder,
      cores: {
        total: cores(spent.total)!,
        functions: cores(spent.functions),
        postgres: cores(spent.postgres),
        bench: cores(spent.client)!,
        other: cores(spent.other)!,
      },
      load: Math.round(os.loadavg()[0] * 100) / 100,
    };
  } finally {
    followers.forEach((f) => f.close());
    await dropStreams(bench.sql, prefix);
  }
}

/** One turn count's rounds as one row: medians, and the counts of every round added up. */
export const streamFanOutMedian = (runs: FanOutPoint[]): FanOutPoint => {
  const of = (f: (r: FanOutPoint) => number) => median(runs.map(f));
  const coresOf = (field: "functions" | "postgres") =>
    runs[0].cores[field] === undefined ? undefined : of((r) => r.cores[field] ?? 0);
  return {
    turns: runs[0].turns,
    followers: runs[0].followers,
    seconds: of((r) => r.seconds),
    batchesPerSecond: of((r) => r.batchesPerSecond),
    offeredPerSecond: runs[0].offeredPerSecond,
    append: medianPercentiles(runs.map((r) => r.append)),
    latency: medianPercentiles(runs.map((r) => r.latency)),
    chunksReceived: runs.reduce((sum, r) => sum + r.chunksReceived, 0),
    lost: runs.reduce((sum, r) => sum + r.lost, 0),
    duplicated: runs.reduce((sum, r) => sum + r.duplicated, 0),
    outOfOrder: runs.reduce((sum, r) => sum + r.outOfOrder, 0),
    cores: {
      total: of((r) => r.cores.total),
      functions: coresOf("functions"),
      postgres: coresOf("postgres"),
      bench: of((r) => r.cores.bench),
      other: of((r) => r.cores.other),
    },
    load: of((r) => r.load),
  };
};

// ---------------------------------------------------------------------------------------------
// 2. Write cost: an append-chunks batch against an append-message
// ---------------------------------------------------------------------------------------------

export type Write = "append-chunks" | "append-message";

export interface WriteRun {
  write: Write;
  writers: number;
  requests: number;
  rps: number;
  latency: Percentiles;
  errors: number;
  /** The rows found afterwards equal the requests answered (chunks: 3 a batch; messages: one each). */
  stored: boolean;
  /** µs per request; `client` is this process (the writers' loop). */
  cpu: CpuPerRequest;
}

/** `writers` loops, each on its own chat, posting `write` back to back for BENCH_SECONDS. */
export async function writeCost(bench: Bench, write: Write, label: string): Promise<WriteRun> {
  const prefix = `scost-${write === "append-chunks" ? "c" : "m"}-${label}-`;
  let send: (w: number, i: number) => Promise<unknown>;
  if (write === "append-chunks") {
    const { serviceRoleKey: key, turns } = await holdTurns(bench, prefix, writers, `bench-${label}`);
    await Promise.all(turns.map((turn) => openStream(bench, key, turn)));
    const batch = (i: number) =>
      Array.from({ length: 3 }, (_, c) => ({ type: "text-delta", id: "t", delta: `#${i * 3 + c} ` }));
    send = (w, i) => append(bench, key, turns[w], batch(i));
  } else {
    const owner = await makeChats(bench.sql, prefix, writers);
    send = (w, i) =>
      call(bench.apiUrl, "append-message", owner.token, {
        chat_id: `${prefix}${w}`,
        message: textMessage(`${prefix}m${w}-${i}`, "user", "benchmark message"),
      });
  }
  const latencies: number[] = [];
  let errors = 0;
  const cpu = measureWithClient(bench.measured);
  const started = now(), until = started + bench.seconds * 1000;
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; now() < until; i++) {
      const sent = now();
      try {
        await send(w, i);
        latencies.push(now() - sent);
      } catch {
        errors++;
      }
    }
  }));
  const seconds = (now() - started) / 1000;
  const spent = cpu(latencies.length);
  const stored = write === "append-chunks"
    ? await storedChunks(bench.sql, prefix) === latencies.length * 3
    : (await bench.sql`select count(*)::int as n from chat_messages where chat_id like ${prefix + "%"}`)[0].n ===
      latencies.length;
  if (write === "append-chunks") await dropStreams(bench.sql, prefix);
  return {
    write,
    writers,
    requests: latencies.length,
    rps: Math.round(latencies.length / seconds),
    latency: percentiles(latencies),
    errors,
    stored,
    cpu: spent,
  };
}

export const writeRunMedian = (runs: WriteRun[]): WriteRun => {
  const of = (f: (r: WriteRun) => number) => median(runs.map(f));
  return {
    write: runs[0].write,
    writers: runs[0].writers,
    requests: of((r) => r.requests),
    rps: of((r) => r.rps),
    latency: medianPercentiles(runs.map((r) => r.latency)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    stored: runs.every((r) => r.stored),
    cpu: medianCpu(runs.map((r) => r.cpu)),
  };
};

// ---------------------------------------------------------------------------------------------
// 3 and 4. The example worker: time to first token, stop to idle
// ---------------------------------------------------------------------------------------------

/** examples/agent-worker as a person runs it (`npm run worker`), against the benchmark's stack. */
async function startWorker(bench: Bench, runnerId: string, chunkDelayMs: number) {
  const worker = spawn(process.execPath, ["--import", "tsx", "examples/agent-worker/worker.ts"], {
    cwd: projectRoot,
    env: {
      ...process.env,
      SUPABASE_URL: bench.apiUrl,
      WORKER_LISTEN_URL: bench.databaseUrl,
      MOCK_CHUNK_DELAY_MS: String(chunkDelayMs),
      RUNNER_ID: runnerId,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker did not start:\n${output.join("\n")}`)), 60_000);
    const keep = (line: string) => {
      output.push(line);
      if (output.length > 50) output.shift();
      if (line.includes('"started":true')) {
        clearTimeout(timer);
        resolve();
      }
    };
    createInterface({ input: worker.stdout! }).on("line", keep);
    createInterface({ input: worker.stderr! }).on("line", keep);
    void exited.then(() => reject(new Error(`the worker exited:\n${output.join("\n")}`)));
  });
  return {
    /** The worker's last lines of output, to explain a failure. */
    output,
    async stop() {
      worker.kill("SIGTERM");
      await exited;
    },
  };
}

/** A new chat of the user's, and the AI SDK's transport to its chat endpoint. */
async function transportChat(bench: Bench, token: string, chatId: string) {
  await call(bench.apiUrl, "create-chat", token, { session: { title: "benchmark" }, chat: { id: chatId } });
  const transport = new DefaultChatTransport({
    api: `${bench.apiUrl}/functions/v1/chat`,
    headers: { Authorization: `Bearer ${token}` },
  });
  const question: UIMessage = {
    id: `${chatId}-u`,
    role: "user",
    parts: [{ type: "text", text: "What does the README say about streaming?" }],
  };
  return () =>
    transport.sendMessages({
      chatId,
      messages: [question],
      trigger: "submit-message",
      messageId: undefined,
      abortSignal: undefined,
    });
}

async function untilIdle(sql: Sql, chatId: string, everyMs: number, timeoutMs = 10_000): Promise<void> {
  const deadline = now() + timeoutMs;
  while ((await sql`select status from chats where id = ${chatId}`)[0].status !== "idle") {
    if (now() > deadline) throw new Error(`chat ${chatId} did not become idle`);
    await sleep(everyMs);
  }
}

/** Reads a reply until `enough` deltas have arrived; resolves then with the reader (to read on or cancel). */
async function deltas(stream: ReadableStream<UIMessageChunk>, enough: number) {
  const reader = stream.getReader();
  for (let seen = 0; seen < enough;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the reply ended after ${seen} text deltas`);
    if (value.type === "text-delta") seen++;
  }
  return reader;
}

/**
 * From sendMessages to the first text-delta at the client, `turns` times one after another, each on a
 * new chat after the previous turn ended; two warm-up turns first.
 */
export async function timeToFirstToken(bench: Bench, turns: number): Promise<Percentiles> {
  const worker = await startWorker(bench, "bench-first-token", 0);
  const token = await userJwt(crypto.randomUUID(), 24 * 3600);
  const latencies: number[] = [];
  try {
    for (let i = -2; i < turns; i++) {
      const chatId = `sttft-${i + 2}`;
      const send = await transportChat(bench, token, chatId);
      const sent = now();
      const reader = await deltas(await send(), 1);
      if (i >= 0) latencies.push(now() - sent);
      while (!(await reader.read()).done);
      await untilIdle(bench.sql, chatId, 20);
    }
  } catch (error) {
    throw new Error(`time to first token: ${error}\nthe worker said:\n${worker.output.join("\n")}`);
  } finally {
    await worker.stop();
  }
  return percentiles(latencies);
}

/** From stop-chat (sent once the reply has streamed 3 deltas) to the chat read as idle, polled every 10 ms. */
export async function stopToIdle(bench: Bench, turns: number): Promise<Percentiles> {
  const worker = await startWorker(bench, "bench-stop", 50);
  const token = await userJwt(crypto.randomUUID(), 24 * 3600);
  const latencies: number[] = [];
  try {
    for (let i = 0; i < turns; i++) {
      const chatId = `sstop-${i}`;
      const send = await transportChat(bench, token, chatId);
      const reader = await deltas(await send(), 3);
      const stopped = now();
      await call(bench.apiUrl, "stop-chat", token, { chat_id: chatId });
      await untilIdle(bench.sql, chatId, 10);
      latencies.push(now() - stopped);
      await reader.cancel();
    }
  } catch (error) {
    throw new Error(`stop to idle: ${error}\nthe worker said:\n${worker.output.join("\n")}`);
  } finally {
    await worker.stop();
  }
  return percentiles(latencies);
}

// ---------------------------------------------------------------------------------------------
// 5. Storing the stream: append_chunks straight to PostgreSQL (pgbench)
// ---------------------------------------------------------------------------------------------

export interface StorageVariant {
  /** The two stream tables as the migration made them, or made logged (`alter table ... set logged`). */
  tables: "unlogged" | "logged";
  /** 3: a row per batch of 3 chunks (as the worker sends them); 1: a row per chunk (each its own batch). */
  chunksPerCall: 3 | 1;
}
/** Unlogged first, so that a round alters the tables twice (there and back). */
export const storageVariants: StorageVariant[] = [
  { tables: "unlogged", chunksPerCall: 3 },
  { tables: "unlogged", chunksPerCall: 1 },
  { tables: "logged", chunksPerCall: 3 },
  { tables: "logged", chunksPerCall: 1 },
];

/** Makes the two stream tables logged or unlogged (a rewrite: no other part is running meanwhile). */
export async function setStreamTables(sql: Sql, tables: StorageVariant["tables"]): Promise<void> {
  const [{ persistence }] = await sql`
    select relpersistence as persistence from pg_class where oid = 'public.chat_stream_chunks'::regclass`;
  if ((persistence === "u") === (tables === "unlogged")) return;
  // A logged table may not point at an unlogged one: the parent becomes logged first, and unlogged last.
  if (tables === "logged") {
    await sql`alter table public.chat_streams set logged`;
    await sql`alter table public.chat_stream_chunks set logged`;
  } else {
    await sql`alter table public.chat_stream_chunks set unlogged`;
    await sql`alter table public.chat_streams set unlogged`;
  }
}

/**
 * append-chunks' call text, as functions/append-chunks sends it, with pgbench variables: client c is the
 * one writer of chat `<prefix>c`, whose stream holds start and text-start; `from` (a client's variables
 * last from one call to the next) starts at 2 (`pgbench -D from=2`) and moves on by the batch's length.
 */
export function appendChunksScript(prefix: string, runnerId: string, chunksPerCall: number, claims: unknown): string {
  const text = callText({
    role: "service_role",
    claims,
    fn: "append_chunks",
    args: {
      chat_id: `${prefix}:client_id`,
      runner_id: runnerId,
      message_id: `${prefix}:client_id-reply`,
      from_index: ":from",
      chunks: Array.from({ length: chunksPerCall }, () => ({ type: "text-delta", id: "t", delta: "#:from " })),
    },
    statementTimeout: "5s",
    lockTimeout: "2s",
    announce: false, // as db.ts sends append_chunks: its hint goes out inside its transaction
  });
  return `${oneQuery(text)};\n\\set from :from + ${chunksPerCall}\n`;
}

export interface StorageRun extends StorageVariant {
  result: LoadResult;
  chunksPerSecond: number;
  /** µs of CPU per chunk: PostgreSQL's, and all cores' (pgbench included). */
  postgresPerChunk: number;
  totalPerChunk: number;
  /** The chunks found afterwards equal the calls pgbench completed times their length. */
  stored: boolean;
}

export async function storageRun(bench: Bench, variant: StorageVariant, label: string): Promise<StorageRun> {
  const prefix = `sstore-${label}-`, runnerId = `bench-${label}`;
  await setStreamTables(bench.sql, variant.tables);
  const { serviceRoleKey: key, turns } = await holdTurns(bench, prefix, writers, runnerId);
  await Promise.all(turns.map((turn) => openStream(bench, key, turn)));
  const script = appendChunksScript(prefix, runnerId, variant.chunksPerCall, claimsOf(key));
  const cpu = measureCpu(bench.measured);
  const result = await pgbench(bench.databaseUrl, script, writers, bench.seconds, { from: 2 });
  const spent = cpu(result.requests * variant.chunksPerCall);
  const stored = await storedChunks(bench.sql, prefix) === result.requests * variant.chunksPerCall &&
    result.requests > 0;
  await dropStreams(bench.sql, prefix);
  return {
    ...variant,
    result,
    chunksPerSecond: result.rps * variant.chunksPerCall,
    postgresPerChunk: spent.postgres ?? 0,
    totalPerChunk: spent.total,
    stored,
  };
}

export const storageMedian = (runs: StorageRun[]): StorageRun => {
  const of = (f: (r: StorageRun) => number) => median(runs.map(f));
  return {
    tables: runs[0].tables,
    chunksPerCall: runs[0].chunksPerCall,
    result: medianLoad(runs.map((r) => r.result)),
    chunksPerSecond: of((r) => r.chunksPerSecond),
    postgresPerChunk: of((r) => r.postgresPerChunk),
    totalPerChunk: of((r) => r.totalPerChunk),
    stored: runs.every((r) => r.stored),
  };
};

// ---------------------------------------------------------------------------------------------
// The report's section
// ---------------------------------------------------------------------------------------------

export interface StreamingResults {
  fanOut: FanOutPoint[];
  /** Per commit mode: both writes, and the batch's PostgreSQL CPU over the append-message's. */
  writeCost: { mode: string; chunks: WriteRun; message: WriteRun; ratio: number }[];
  storage: (StorageRun & { mode: string })[];
  firstToken: Percentiles;
  stopToIdle: Percentiles;
}

const verdict = (met: boolean) => `**${met ? "met" : "not met"}**`;

/** `cpus`: the machine's cores; `seconds`: BENCH_SECONDS, the length of a write-cost or pgbench run. */
export function streamingSection(r: StreamingResults, cpus: number, seconds: number): string[] {
  const at20 = r.fanOut.find((x) => x.turns === 20);
  // Saturated: the synthetic workers could no longer post at the offered rate (every core was taken).
  const saturated = r.fanOut.find((x) => x.batchesPerSecond < 0.95 * x.offeredPerSecond);
  const durable = r.writeCost.find((x) => x.mode === "durable");
  const shown = (value: number | undefined) => value ?? "–";
  const lines = [
    "## Live streams",
    "",
    "### Fan-out: latency against the number of turns streaming at once",
    "",
    `T turns at once, each played by a synthetic worker in the benchmark's process (its own chat, created by a user, ` +
    `with a user message, claimed by its runner), posting append-chunks every ${batchMs} ms on a fixed schedule ` +
    `(1 to 3 text-delta chunks a batch) for ${fanOutSeconds} s; ${followersPerTurn} follow-chat followers per turn ` +
    `and ${extraFollowers} more on turn 0, all in the benchmark's process. Latency: from just before a chunk's batch ` +
    "was posted to the follower receiving it (the delta's text carries a sequence number the benchmark looks up). " +
    "Lost, duplicated and out-of-order: against each follower's whole stream, start to finish (must be 0). Cores " +
    `busy: of ${cpus}, over the sending phase, from /proc: the function process, PostgreSQL, the benchmark's own ` +
    "process (which plays every worker and every follower), and the rest (the kernel's loopback networking, and " +
    "anything else the machine ran). Medians of the rounds; counts added up.",
    "",
    "| turns | followers | batches/s (offered) | append-chunks p50 / p99 ms | emit → receipt p50 / p95 / p99 ms | chunks received | lost / duplicated / out of order | cores busy: all / functions / PostgreSQL / benchmark / other | load (1 min) |",
    "| --: | --: | --: | --: | --: | --: | --: | --: | --: |",
    ...r.fanOut.map((x) =>
      `| ${x.turns} | ${x.followers} | ${x.batchesPerSecond} (${x.offeredPerSecond}) | ${x.append.p50} / ` +
      `${x.append.p99} | ${x.latency.p50} / ${x.latency.p95} / ${x.latency.p99} | ${x.chunksReceived} | ` +
      `${x.lost} / ${x.duplicated} / ${x.outOfOrder} | ${x.cores.total} / ${shown(x.cores.functions)} / ` +
      `${shown(x.cores.postgres)} / ${x.cores.bench} / ${x.cores.other} | ${x.load} |`
    ),
    "",
  ];
  if (at20) {
    const clean = at20.lost + at20.duplicated + at20.outOfOrder === 0;
    lines.push(
      `Targets at 20 turns: p50 < 50 ms, p99 < 150 ms, nothing lost, repeated or reordered. Measured: p50 ` +
        `${at20.latency.p50} ms, p99 ${at20.latency.p99} ms: ${
          verdict(at20.latency.p50 < 50 && at20.latency.p99 < 150 && clean)
        }.`,
      "",
    );
  }
  lines.push(
    saturated
      ? `Saturation: at ${saturated.turns} turns the workers could post only ${saturated.batchesPerSecond} of the ` +
        `offered ${saturated.offeredPerSecond} batches/s, with ${saturated.cores.total} of ${cpus} cores busy ` +
        `(${saturated.cores.other} of them other work on the machine).`
      : `No saturation at up to ${r.fanOut.at(-1)?.turns} turns: every offered batch was posted on time.`,
    "",
    "### CPU per append-chunks batch against per append-message",
    "",
    `The same client loop in the benchmark's process, ${writers} writers for ${seconds} s a run, each on its own ` +
      "chat: an " +
      "append-chunks batch of 3 text-delta chunks to a chat its runner holds (service role), against append-message " +
      "of a user message with the owner's token (what the append part's CPU table measures). CPU per request in µs, " +
      "from /proc; *client* is the benchmark's process. Durable and CPU-bound (`synchronous_commit = off`) runs " +
      "interleaved round by round; medians.",
    "",
    "| commit | write | req/s | p50 / p99 ms | errors | rows stored = answered | total | function process | PostgreSQL | client | other |",
    "| --- | --- | --: | --: | --: | --- | --: | --: | --: | --: | --: |",
    ...r.writeCost.flatMap((x) =>
      [x.chunks, x.message].map((w) =>
        `| ${x.mode} | ${w.write} | ${w.rps} | ${w.latency.p50} / ${w.latency.p99} | ${w.errors} | ` +
        `${w.stored ? "yes" : "**no**"} | ${w.cpu.total} | ${shown(w.cpu.functions)} | ${shown(w.cpu.postgres)} | ` +
        `${w.cpu.client} | ${w.cpu.other} |`
      )
    ),
    "",
  );
  if (durable) {
    lines.push(
      `Target: a batch costs PostgreSQL at most a third of an append-message. Measured: ${
        r.writeCost.map((x) => `${x.ratio} (${x.mode})`).join(", ")
      }: ${verdict(r.writeCost.every((x) => x.ratio <= 1 / 3))}.`,
      "",
    );
  }
  const ft = r.firstToken, st = r.stopToIdle;
  lines.push(
    "### The example worker: time to first token, stop to idle",
    "",
    "examples/agent-worker as `npm run worker` runs it (a process of its own, the AI SDK's mock model), against the " +
      "benchmark's stack. Time to first token: a DefaultChatTransport client's sendMessages (POST /chat with the user " +
      `message) to the first text-delta chunk it reads, MOCK_CHUNK_DELAY_MS=0, ${ft.count} turns one after another, ` +
      "each on a new chat once the previous one ended (after two warm-up turns). It includes the claim (notified), the " +
      "history read, the agent's first step (a tool call) persisted and logged, and the flush of the answer's first " +
      `batch. p50 / p95 / p99: ${ft.p50} / ${ft.p95} / ${ft.p99} ms (max ${ft.max}; with so few turns the p99 is ` +
      `the slowest one). Target p50 < 150 ms: ${verdict(ft.p50 < 150)}.`,
    "",
    `Stop to idle: MOCK_CHUNK_DELAY_MS=50, ${st.count} turns; once the client has read 3 text deltas, stop-chat as ` +
      "the user, then the chat's status read in SQL every 10 ms until idle (the worker learns of the stop from its " +
      "next append-chunks answer, aborts, stores the partial reply and finishes the run). p50 / p95 / p99: " +
      `${st.p50} / ${st.p95} / ${st.p99} ms (max ${st.max}: the p99 is the slowest turn). Target p99 < 1 s: ${
        verdict(st.p99 < 1000)
      }.`,
    "",
    "### Storing the stream: append_chunks straight to PostgreSQL",
    "",
    `pgbench sending append-chunks' exact call text (functions/_shared/call-text.ts), ${writers} clients each the ` +
      `one writer of its own held chat, ${seconds} s a run: the tables as the migration made them (unlogged, ` +
      "a row per batch of 3 chunks), the same tables made logged (`alter table ... set logged`), and a row per " +
      "chunk (each chunk its own batch: 3 calls for 3 chunks). Interleaved round by round, durable and CPU-bound; " +
      "medians. CPU per chunk in µs (all cores includes pgbench). Decision and reading: " +
      '[performance.md](performance.md), "Storing the stream".',
    "",
    "| commit | tables | chunks a call | calls/s | chunks/s | p50 / p99 ms | errors | stored = answered | PostgreSQL µs/chunk | all cores µs/chunk |",
    "| --- | --- | --: | --: | --: | --: | --: | --- | --: | --: |",
    ...r.storage.map((x) =>
      `| ${x.mode} | ${x.tables} | ${x.chunksPerCall} | ${x.result.rps} | ${x.chunksPerSecond} | ${x.result.p50} / ` +
      `${x.result.p99} | ${x.result.errors} | ${x.stored ? "yes" : "**no**"} | ${x.postgresPerChunk} | ` +
      `${x.totalPerChunk} |`
    ),
    "",
  );
  return lines;
}
