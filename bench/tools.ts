// The two load generators, each run as its own process so its CPU is visible and light: wrk for
// HTTP (a Lua script makes unique ids) and pgbench (PostgreSQL's own load tool) for the baseline.
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  /** wrk, shape a: requests that found no free chat and shared one with a request in flight. */
  shared?: number;
}

/**
 * Threads of each load generator: the same on both sides (wrk -t like pgbench -j), at most one per
 * core of this 2-core machine, so the HTTP client costs no more CPU than the SQL client.
 */
export const clientThreads = (connections: number) => Math.min(connections, 2);

/** Installs wrk and pgbench from Debian's packages when missing (the benchmark is not part of CI). */
export function ensureTools(): void {
  const missing = [["wrk", "wrk"], ["pgbench", "postgresql-15"]].filter(([bin]) => {
    try {
      execFileSync("which", [bin], { stdio: "ignore" });
      return false;
    } catch {
      return true;
    }
  });
  if (!missing.length) return;
  const packages = missing.map(([, pkg]) => pkg);
  console.log(`installing ${packages.join(", ")} with apt-get ...`);
  execFileSync("sh", [
    "-c",
    `apt-get install -y ${packages.join(" ")} || (apt-get update && apt-get install -y ${packages.join(" ")})`,
  ], {
    stdio: "ignore",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

const ms = (us: number) => Math.round(us / 10) / 100;

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The median of each percentile over rounds (the sample counts add up, the max is the largest). */
export const medianPercentiles = (list: Percentiles[]): Percentiles => ({
  count: list.reduce((sum, p) => sum + p.count, 0),
  p50: median(list.map((p) => p.p50)),
  p95: median(list.map((p) => p.p95)),
  p99: median(list.map((p) => p.p99)),
  max: Math.max(...list.map((p) => p.max)),
});

/** One configuration's load runs as one: each figure's median, the errors (and wrk's shared chats) added up. */
export const medianLoad = (runs: LoadResult[]): LoadResult => ({
  requests: median(runs.map((r) => r.requests)),
  seconds: median(runs.map((r) => r.seconds)),
  rps: median(runs.map((r) => r.rps)),
  p50: median(runs.map((r) => r.p50)),
  p95: median(runs.map((r) => r.p95)),
  p99: median(runs.map((r) => r.p99)),
  errors: runs.reduce((sum, r) => sum + r.errors, 0),
  ...(runs.some((r) => r.shared !== undefined) ? { shared: runs.reduce((sum, r) => sum + (r.shared ?? 0), 0) } : {}),
});

/** Percentiles of latencies in ms (nearest rank), rounded to 0.01 ms; zeros for no samples. */
export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
  const round = (v: number) => Math.round(v * 100) / 100;
  return { count: sorted.length, p50: round(at(0.5)), p95: round(at(0.95)), p99: round(at(0.99)), max: round(at(1)) };
}

export async function wrk(
  url: string,
  args: { operation: string; token: string; chatPrefix: string; shape: "a" | "b"; tag: string },
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const threads = clientThreads(connections);
  const { stdout } = await run("wrk", [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    "--timeout",
    "10s",
    "-s",
    path.join(import.meta.dirname, "load.lua"),
    url,
    "--",
    args.operation,
    args.token,
    args.chatPrefix,
    args.shape,
    args.tag,
    String(connections / threads),
  ], { maxBuffer: 16 << 20 });
  const line = stdout.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
  const r = JSON.parse(line);
  const secs = r.duration_us / 1e6;
  return {
    requests: r.requests,
    seconds: secs,
    rps: Math.round(r.requests / secs),
    p50: ms(r.p50_us),
    p95: ms(r.p95_us),
    p99: ms(r.p99_us),
    errors: r.errors + r.non2xx,
    shared: r.shared,
  };
}

/** GET `url` (query string included) with a bearer token, `connections` at a time. */
export const wrkGet = (url: string, token: string, connections: number, seconds: number) =>
  wrk(url, { operation: "get", token, chatPrefix: "-", shape: "b", tag: "-" }, connections, seconds);

/**
 * Runs a pgbench script (simple protocol, C clients) and reads latencies from its per-transaction log.
 * `variables` are set for every client before its first transaction (`pgbench -D`): pgbench 15 cannot
 * test whether a variable is set, so a script that carries a value from one call to the next cannot
 * start it itself.
 */
export async function pgbench(
  databaseUrl: string,
  script: string,
  clients: number,
  seconds: number,
  variables: Record<string, string | number> = {},
): Promise<LoadResult> {
  const dir = await mkdtemp(path.join(tmpdir(), "pgbench-"));
  try {
    const file = path.join(dir, "script.sql");
    await writeFile(file, script);
    const { stdout } = await run("pgbench", [
      "-n",
      "-M",
      "simple",
      `-c${clients}`,
      `-j${clientThreads(clients)}`,
      `-T${seconds}`,
      ...Object.entries(variables).flatMap(([name, value]) => ["-D", `${name}=${value}`]),
      "-f",
      file,
      "--log",
      `--log-prefix=${path.join(dir, "log")}`,
      databaseUrl,
    ], { maxBuffer: 16 << 20 });
    const latencies: number[] = [];
    for (const name of (await readdir(dir)).filter((f) => f.startsWith("log"))) {
      for (const line of (await readFile(path.join(dir, name), "utf8")).split("\n")) {
        const fields = line.split(" ");
        if (fields.length >= 3) latencies.push(Number(fields[2]));
      }
    }
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    const { p50, p95, p99 } = percentiles(latencies.map((us) => us / 1000));
    return {
      requests: latencies.length,
      seconds,
      rps: Math.round(Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? 0)),
      p50,
      p95,
      p99,
      errors: failed,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
