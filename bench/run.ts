// npm run bench: how fast the API persists and serves agent conversations on this machine, measured
// side by side with the same database work sent straight to PostgreSQL, in one run. append-message
// is measured twice: durable (every commit waits for its WAL flush, as in production) and CPU-bound
// (synchronous_commit = off for both sides), so that disk-flush noise does not hide the API's cost.
// Writes docs/benchmarks.json and docs/benchmarks.md (with its charts next to it).
//
// Settings (environment): BENCH_SECONDS per load run (4), BENCH_ROUNDS per configuration (3; medians
// are reported), BENCH_SIZES for the scaling workload (1000,100000,1000000; reads page the smallest
// and the largest), BENCH_FOLLOWERS for the fan-out (1,50,200), BENCH_STREAM_TURNS for the live streams'
// fan-out (1,10,20,50), BENCH_QUICK=1 for a short smoke run.
// BENCH_PARTS picks parts (comma-separated, from `allParts`; default all): a run of some parts writes
// its report to a temporary folder, so docs/ always holds a full run. BENCH_DATABASE_URL +
// BENCH_API_URL run the parts that leave the data alone against a stack you started.
import { SingleBar } from "cli-progress";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { apiKeys, projectRoot } from "../scripts/local-stack/config.ts";
import { connect, type Sql } from "../scripts/local-stack/database.ts";
import { type ThrowawayStack, throwawayStack } from "../scripts/local-stack/throwaway.ts";
import { type AppendRun, appendRun, type Bench, makeChats, settleChats, type Shape } from "./append.ts";
import { type Measured, medianCpu, processName } from "./cpu.ts";
import { fanOut, fanOutMedian, type FollowResults, idleFollowers } from "./follow.ts";
import {
  chats as readsChats,
  getMessagesPlans,
  measureReads,
  type ReadsResults,
  type ReadsRound,
  seedReads,
  sessions as readsSessions,
} from "./reads.ts";
import { writeReport } from "./report.ts";
import { claimMedian, claimThroughput, type RunControlResults, timeToFirstClaim } from "./run-control.ts";
import { measureAt, plans, type ScalePoint, seedMessages, seedScaleAccount } from "./scaling.ts";
import { measureStartup } from "./startup.ts";
import {
  setStreamTables,
  stopToIdle,
  storageMedian,
  type StorageRun,
  storageRun,
  storageVariants,
  streamFanOut,
  streamFanOutMedian,
  type StreamingResults,
  timeToFirstToken,
  type Write,
  writeCost,
  type WriteRun,
  writeRunMedian,
} from "./streaming.ts";
import { ensureTools, type LoadResult, median, medianLoad, wrk } from "./tools.ts";

const quick = process.env.BENCH_QUICK === "1";
const seconds = Number(process.env.BENCH_SECONDS ?? (quick ? 2 : 4));
const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3));
const sizes = (process.env.BENCH_SIZES ?? (quick ? "1000,100000" : "1000,100000,1000000")).split(",").map(Number);
const levels = [1, 4, 16, 64];
const shapes: Shape[] = ["a", "b"];
const followerCounts = (process.env.BENCH_FOLLOWERS ?? "1,50,200").split(",").map(Number);
const claimWorkers = [1, 4, 16];
const streamTurns = (process.env.BENCH_STREAM_TURNS ?? (quick ? "1,10" : "1,10,20,50")).split(",").map(Number);
const writes: Write[] = ["append-chunks", "append-message"];
const external = process.env.BENCH_DATABASE_URL && process.env.BENCH_API_URL;
const allParts = [
  "append",
  "others",
  "scaling",
  "reads",
  "follow",
  "run-control",
  "streaming",
  "startup",
] as const;
const parts = new Set(process.env.BENCH_PARTS?.split(",") ?? allParts);
for (const part of parts) {
  if (!(allParts as readonly string[]).includes(part)) throw new Error(`BENCH_PARTS: no part ${part}`);
}
// Parts that rebuild tables, change the server's settings or create databases: only on the benchmark's own cluster.
// Streaming also settles every chat and starts workers of its own, which would compete with a stack's own workers.
if (external) { for (const part of ["scaling", "reads", "streaming", "startup"]) parts.delete(part); }
const wanted = (part: typeof allParts[number]) => parts.has(part);
// The CPU-bound pass changes the server's configuration: only on the benchmark's own cluster.
const commitModes: CommitMode[] = external ? ["durable"] : ["durable", "cpu-bound"];
type CommitMode = "durable" | "cpu-bound";

/** The function process (when it is Deno itself, not a wrapper) and PostgreSQL, measured apart. */
function measuredProcesses(stack: ThrowawayStack): Measured {
  const functionsPid = stack.functions.process.pid;
  const isDeno = functionsPid !== undefined && processName(functionsPid) === "deno";
  if (!isDeno) console.warn("the function process is not deno itself: its CPU is counted under other");
  return { functionsPid: isDeno ? functionsPid : undefined, postmasterPid: stack.postmasterPid() };
}

/** Sets synchronous_commit for every connection, the functions' pooled ones included (reload, not reconnect). */
async function setCommitMode(sql: Sql, mode: CommitMode) {
  if (mode === "cpu-bound") await sql`alter system set synchronous_commit = off`;
  else await sql`alter system reset synchronous_commit`;
  await sql`select pg_reload_conf()`;
  const want = mode === "cpu-bound" ? "off" : "on";
  for (let i = 0; (await sql`show synchronous_commit`)[0].synchronous_commit !== want; i++) {
    if (i > 50) throw new Error(`synchronous_commit did not become ${want}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 200)); // every other backend has had the reload signal
}

ensureTools();
// Other work on the machine distorts every figure: sample the load while measuring, and report it.
const loadSamples: number[] = [];
const loadSampler = setInterval(() => loadSamples.push(os.loadavg()[0]), 10_000);
// The followers of the fan-outs belong to a few accounts: lift the per-account limit on open streams.
const stack = external ? undefined : await throwawayStack({ FOLLOW_MAX_STREAMS_PER_ACCOUNT: "2000" }, {
  keepLogs: false,
});
const bench: Bench = {
  sql: stack?.sql ?? connect(process.env.BENCH_DATABASE_URL!, { max: 4 }),
  databaseUrl: stack?.databaseUrl ?? process.env.BENCH_DATABASE_URL!,
  apiUrl: stack?.apiUrl ?? process.env.BENCH_API_URL!,
  seconds,
  measured: stack && measuredProcesses(stack),
};

const steps = 1 + (wanted("append") ? commitModes.length * shapes.length * levels.length * rounds : 0) +
  (wanted("others") ? 2 * rounds : 0) +
  (wanted("scaling") ? sizes.length * 2 : 0) + (wanted("reads") ? 1 + rounds : 0) +
  (wanted("follow") ? followerCounts.length * rounds + 1 : 0) +
  (wanted("run-control") ? claimWorkers.length * rounds + 1 : 0) +
  (wanted("streaming")
    ? (streamTurns.length + commitModes.length * (writes.length + storageVariants.length)) * rounds + 2
    : 0) +
  1;
const bar = new SingleBar({
  format: "bench [{bar}] {value}/{total} {stage}",
  hideCursor: true,
  clearOnComplete: false,
  barCompleteChar: "#",
  barIncompleteChar: ".",
  // Without a terminal (CI, a log file) print the bar as a line every few seconds.
  noTTYOutput: true,
  notTTYSchedule: 5000,
});
bar.start(steps, 0, { stage: "warming up" });
const step = (stage: string) => bar.increment({ stage });

/**
 * Measures every configuration once per round, round by round (so drift on a shared machine hits
 * every configuration alike), and returns each configuration's rounds.
 */
async function interleaved<C, R>(
  configs: C[],
  stage: (config: C, round: number) => string,
  measure: (config: C, round: number) => Promise<R>,
): Promise<R[][]> {
  const results: R[][] = configs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, config] of configs.entries()) {
      bar.update({ stage: stage(config, round) });
      results[i].push(await measure(config, round));
      step(stage(config, round));
    }
  }
  return results;
}
let stopped = false;
try {
  // Warm-up: JIT, connection pools, caches.
  const warm = await makeChats(bench.sql, "warmup-", 16);
  await wrk(
    `${bench.apiUrl}/functions/v1/append-message`,
    {
      operation: "append",
      token: warm.token,
      chatPrefix: "warmup-",
      shape: "a",
      tag: "warmup",
    },
    16,
    2,
  );
  step("append-message vs pgbench");

  // Workloads 1 and 2, interleaved round by round (and durable / CPU-bound within each round) so
  // drift on a shared machine hits every configuration alike.
  const runs: (AppendRun & { mode: CommitMode })[] = [];
  for (let round = 0; round < rounds && wanted("append"); round++) {
    for (const mode of commitModes) {
      if (!external) await setCommitMode(bench.sql, mode);
      for (const shape of shapes) {
        for (const concurrency of levels) {
          bar.update({ stage: `append ${mode}, shape ${shape}, concurrency ${concurrency}, round ${round + 1}` });
          const run = await appendRun(bench, shape, concurrency, `${mode === "durable" ? "d" : "c"}${round}`);
          runs.push({ mode, ...run });
          step("append-message vs pgbench");
        }
      }
    }
  }
  if (!external) await setCommitMode(bench.sql, "durable");
  const appendIn = (mode: CommitMode) =>
    shapes.flatMap((shape) =>
      levels.map((concurrency) => {
        const mine = runs.filter((r) => r.mode === mode && r.shape === shape && r.concurrency === concurrency);
        return {
          shape,
          concurrency,
          http: medianLoad(mine.map((r) => r.http)),
          sql: medianLoad(mine.map((r) => r.sql)),
          bare: medianLoad(mine.map((r) => r.bare)),
          ratio: median(mine.map((r) => r.ratio)),
          ratios: mine.map((r) => r.ratio),
          bareRatio: median(mine.map((r) => r.bareRatio)),
          storedMatchesAcknowledged: mine.every((r) =>
            r.stored.http >= r.http.requests - r.http.errors && r.stored.sql === r.sql.requests &&
            r.stored.bare === r.bare.requests
          ),
          cpu: { http: medianCpu(mine.map((r) => r.cpu.http)), sql: medianCpu(mine.map((r) => r.cpu.sql)) },
        };
      })
    );
  const append = wanted("append") ? appendIn("durable") : [];
  const appendCpuBound = wanted("append") && commitModes.includes("cpu-bound") ? appendIn("cpu-bound") : [];

  // Workload 3: the other two writes at concurrency 16.
  const others: Record<string, LoadResult[]> = wanted("others") ? { "mark-read": [], "log-workflow-step": [] } : {};
  for (let round = 0; round < rounds && wanted("others"); round++) {
    const owner = await makeChats(bench.sql, `other-r${round}-`, 16);
    bar.update({ stage: `mark-read, round ${round + 1}` });
    others["mark-read"].push(
      await wrk(
        `${bench.apiUrl}/functions/v1/mark-read`,
        {
          operation: "mark-read",
          token: owner.token,
          chatPrefix: `other-r${round}-`,
          shape: "a",
          tag: "read",
        },
        16,
        seconds,
      ),
    );
    step("mark-read");
    bar.update({ stage: `log-workflow-step, round ${round + 1}` });
    others["log-workflow-step"].push(
      await wrk(
        `${bench.apiUrl}/functions/v1/log-workflow-step`,
        {
          operation: "log-step",
          token: (await apiKeys()).serviceRoleKey,
          chatPrefix: `other-r${round}-`,
          shape: "a",
          tag: `run-r${round}`,
        },
        16,
        seconds,
      ),
    );
    step("log-workflow-step");
  }

  // Workload 4: scaling (only on the throwaway stack: it rebuilds chat_messages).
  const scaling: (ScalePoint & { plans?: Awaited<ReturnType<typeof plans>> })[] = [];
  if (wanted("scaling")) {
    const owner = await seedScaleAccount(bench);
    for (const size of sizes) {
      bar.update({ stage: `seeding ${size.toLocaleString("en")} messages` });
      const seeded = await seedMessages(bench, size);
      step(`seeded ${seeded}`);
      bar.update({ stage: `measuring at ${size.toLocaleString("en")} messages` });
      const points: ScalePoint[] = [];
      for (let round = 0; round < rounds; round++) points.push(await measureAt(bench, owner.accountId, seeded, round));
      scaling.push({
        messages: seeded,
        append: medianLoad(points.map((p) => p.append)),
        pageRead: medianLoad(points.map((p) => p.pageRead)),
        unreadListing: medianLoad(points.map((p) => p.unreadListing)),
        ...(size === sizes.at(-1) ? { plans: await plans(bench, owner.accountId, seeded) } : {}),
      });
      step(`measured ${size}`);
    }
  }

  // Workload 6: reading over HTTP (list-chats, list-sessions, get-messages at the smallest and the
  // largest size), with the plans inside get_messages.
  let reads: ReadsResults | undefined;
  if (wanted("reads")) {
    const pageSizes = [sizes[0], sizes.at(-1)!];
    bar.update({ stage: `seeding chats of ${pageSizes.map((n) => n.toLocaleString("en")).join(" and ")} messages` });
    const account = await seedReads(bench, pageSizes);
    step("seeded reads");
    const points: ReadsRound[] = [];
    for (let round = 0; round < rounds; round++) {
      bar.update({ stage: `reads, round ${round + 1}` });
      points.push(await measureReads(bench, account));
      step("reads");
    }
    reads = {
      chats: readsChats,
      sessions: readsSessions,
      listChats: medianLoad(points.map((p) => p.listChats)),
      listSessions: medianLoad(points.map((p) => p.listSessions)),
      messages: pageSizes.map((n, i) => ({ messages: n, result: medianLoad(points.map((p) => p.messages[i])) })),
      plans: await getMessagesPlans(bench, account),
    };
  }

  // Workload 7: following a chat (fan-out while a writer writes, then idle followers' memory).
  let follow: FollowResults | undefined;
  if (wanted("follow")) {
    const runs = await interleaved(
      followerCounts,
      (count, round) => `follow-chat, ${count} followers, round ${round + 1}`,
      (count, round) => fanOut(bench, count, `f${count}-r${round}`),
    );
    bar.update({ stage: "follow-chat, 1,000 idle followers" });
    const pid = stack?.functions.process.pid;
    follow = {
      fanOut: runs.map(fanOutMedian),
      idle: pid === undefined ? undefined : await idleFollowers(bench, pid),
    };
    step("idle followers");
  }

  // Workload 8: run control (claim throughput, and the notify path's time to first claim).
  let runControl: RunControlResults | undefined;
  if (wanted("run-control")) {
    const runs = await interleaved(
      claimWorkers,
      (workers, round) => `claim-chats, ${workers} workers, round ${round + 1}`,
      (workers, round) => claimThroughput(bench, workers, `w${workers}-r${round}`),
    );
    bar.update({ stage: "time to first claim" });
    runControl = { claims: runs.map(claimMedian), firstClaim: await timeToFirstClaim(bench, quick ? 30 : 100) };
    step("time to first claim");
  }

  // Workload 9: live streams (streaming.ts). The write costs and the storage runs are
  // interleaved round by round, durable and CPU-bound within each round, as the append part is.
  let streaming: StreamingResults | undefined;
  if (wanted("streaming")) {
    await settleChats(bench.sql);
    const fanOut = await interleaved(
      streamTurns,
      (turns, round) => `append-chunks fan-out, ${turns} turns, round ${round + 1}`,
      (turns, round) => streamFanOut(bench, turns, `t${turns}-r${round}`),
    );
    const writeRuns: (WriteRun & { mode: CommitMode })[] = [];
    const storageRuns: (StorageRun & { mode: CommitMode })[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const mode of commitModes) {
        await setCommitMode(bench.sql, mode);
        const label = `${mode === "durable" ? "d" : "c"}${round}`;
        // Each round starts with the other write, so that neither always runs first.
        for (const write of round % 2 ? [...writes].reverse() : writes) {
          bar.update({ stage: `${write} CPU per request, ${mode}, round ${round + 1}` });
          writeRuns.push({ mode, ...await writeCost(bench, write, label) });
          step(write);
        }
        for (const variant of storageVariants) {
          bar.update({
            stage: `append_chunks via pgbench, ${variant.tables}, ${variant.chunksPerCall} a call, ${mode}, ` +
              `round ${round + 1}`,
          });
          const name = `${label}-${variant.tables[0]}${variant.chunksPerCall}`;
          storageRuns.push({ mode, ...await storageRun(bench, variant, name) });
          step("append_chunks via pgbench");
        }
      }
    }
    await setStreamTables(bench.sql, "unlogged");
    await setCommitMode(bench.sql, "durable");
    await settleChats(bench.sql);
    bar.update({ stage: "time to first token (the example worker)" });
    const firstToken = await timeToFirstToken(bench, 30);
    step("time to first token");
    bar.update({ stage: "stop to idle (the example worker)" });
    const stopped = await stopToIdle(bench, 20);
    step("stop to idle");
    streaming = {
      fanOut: fanOut.map(streamFanOutMedian),
      writeCost: commitModes.map((mode) => {
        const of = (write: Write) => writeRunMedian(writeRuns.filter((r) => r.mode === mode && r.write === write));
        const [chunks, message] = [of("append-chunks"), of("append-message")];
        return {
          mode,
          chunks,
          message,
          ratio: Math.round((chunks.cpu.postgres ?? 0) / Math.max(message.cpu.postgres ?? 0, 1) * 100) / 100,
        };
      }),
      storage: commitModes.flatMap((mode) =>
        storageVariants.map((v) => ({
          mode,
          ...storageMedian(
            storageRuns.filter((r) => r.mode === mode && r.tables === v.tables && r.chunksPerCall === v.chunksPerCall),
          ),
        }))
      ),
      firstToken,
      stopToIdle: stopped,
    };
  }

  // Workload 5: start-up.
  bar.update({ stage: "start-up times" });
  await stack?.stop();
  stopped = true;
  const startup = wanted("startup") ? await measureStartup(quick ? 1 : 3) : undefined;
  step("done");
  bar.stop();

  const results = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      load: { median: median(loadSamples), max: Math.max(...loadSamples) },
    },
    settings: { seconds, rounds, sizes, levels, quick, parts: [...parts], followerCounts, claimWorkers, streamTurns },
    append,
    appendCpuBound,
    others: Object.fromEntries(Object.entries(others).map(([name, list]) => [name, medianLoad(list)])),
    scaling,
    reads,
    follow,
    runControl,
    streaming,
    startup,
  };
  const everything = process.env.BENCH_PARTS === undefined;
  const out = everything ? path.join(projectRoot, "docs") : await mkdtemp(path.join(os.tmpdir(), "bench-"));
  await writeFile(path.join(out, "benchmarks.json"), JSON.stringify(results, null, 2) + "\n");
  await writeReport(out, results);
  console.log(`\nwrote ${path.join(out, "benchmarks.json")} and benchmarks.md`);
  for (const [mode, rows] of [["durable", append], ["cpu-bound", appendCpuBound]] as const) {
    for (const a of rows) {
      console.log(
        `append ${mode} shape ${a.shape} c${String(a.concurrency).padEnd(2)}: ${a.http.rps} req/s over HTTP, ` +
          `${a.sql.rps} tx/s straight to PostgreSQL, ratio ${a.ratio}; p99 ${a.http.p99} ms; errors ${a.http.errors}`,
      );
    }
  }
  for (const x of streaming?.fanOut ?? []) {
    console.log(
      `streaming ${
        String(x.turns).padStart(2)
      } turns: emit to receipt p50 ${x.latency.p50} / p99 ${x.latency.p99} ms, ` +
        `${x.batchesPerSecond} of ${x.offeredPerSecond} batches/s, lost ${x.lost}, duplicated ${x.duplicated}, ` +
        `out of order ${x.outOfOrder}, cores busy ${x.cores.total}`,
    );
  }
  for (const x of streaming?.writeCost ?? []) {
    console.log(`streaming ${x.mode}: a batch costs PostgreSQL ${x.ratio} of an append-message`);
  }
} finally {
  clearInterval(loadSampler);
  bar.stop();
  if (external) await bench.sql.end();
  else if (!stopped) await stack?.stop();
}
