// docs/benchmarks.md and its two charts (SVG, drawn here: no plotting dependency for two charts).
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { type FollowResults, followSection } from "./follow.ts";
import { type ReadsResults, readsSection } from "./reads.ts";
import { type RunControlResults, runControlSection } from "./run-control.ts";
import { type StreamingResults, streamingSection } from "./streaming.ts";
import type { CpuPerRequest } from "./cpu.ts";
import { type LoadResult, median } from "./tools.ts";

interface AppendRow {
  shape: string;
  concurrency: number;
  http: LoadResult;
  sql: LoadResult;
  /** The bare append_message call (identity and the function, nothing else). */
  bare?: LoadResult;
  ratio: number;
  ratios: number[];
  bareRatio?: number;
  storedMatchesAcknowledged: boolean;
  /** CPU per request on each side (medians over the rounds). */
  cpu: { http: CpuPerRequest; sql: CpuPerRequest };
}
interface ScaleRow {
  messages: number;
  append: LoadResult;
  pageRead: LoadResult;
  unreadListing: LoadResult;
  plans?: { pageRead: string; unreadListing: string };
}
export interface Results {
  date: string;
  /** load: the 1-minute load average sampled every 10 s during the run. */
  machine: { cpus: number; cpu?: string; memoryGiB: number; load: { median: number; max: number } };
  settings: { seconds: number; rounds: number; sizes: number[]; levels: number[]; quick: boolean; parts: string[] };
  /** Empty when the part was not run (BENCH_PARTS), as every part below is empty or absent. */
  append: AppendRow[];
  /** The same runs with synchronous_commit = off on both sides (empty against an external stack). */
  appendCpuBound: AppendRow[];
  others: Record<string, LoadResult>;
  scaling: ScaleRow[];
  reads?: ReadsResults;
  follow?: FollowResults;
  runControl?: RunControlResults;
  streaming?: StreamingResults;
  startup?: { cold: number[]; warm: number[]; dbReset: number[] };
}

const colors = { http: "#3b82f6", sql: "#9ca3af", append: "#3b82f6", page: "#10b981", listing: "#f59e0b" };
const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

function appendChart(rows: AppendRow[]): string {
  const width = 760, height = 300, top = 40, bottom = 50, left = 60;
  const max = Math.max(...rows.flatMap((r) => [r.http.rps, r.sql.rps])) * 1.1;
  const panel = (width - left - 20) / 2;
  const y = (v: number) => top + (height - top - bottom) * (1 - v / max);
  const parts: string[] = [];
  ["a", "b"].forEach((shape, p) => {
    const x0 = left + p * panel;
    const mine = rows.filter((r) => r.shape === shape);
    const group = (panel - 20) / mine.length;
    parts.push(
      `<text x="${x0 + panel / 2}" y="22" text-anchor="middle" font-weight="bold">${
        shape === "a" ? "(a) one writer per chat" : "(b) all writers on one chat"
      }</text>`,
    );
    mine.forEach((r, i) => {
      const gx = x0 + 10 + i * group, bw = group / 2 - 6;
      for (const [j, side] of (["http", "sql"] as const).entries()) {
        const v = r[side].rps;
        parts.push(
          `<rect x="${gx + 3 + j * (bw + 2)}" y="${y(v)}" width="${bw}" height="${y(0) - y(v)}" fill="${
            colors[side]
          }"/>`,
        );
      }
      parts.push(`<text x="${gx + group / 2}" y="${y(0) + 16}" text-anchor="middle">c=${r.concurrency}</text>`);
      parts.push(
        `<text x="${gx + group / 2}" y="${
          y(Math.max(r.http.rps, r.sql.rps)) - 6
        }" text-anchor="middle" font-size="11">${r.ratio}×</text>`,
      );
    });
  });
  for (let t = 0; t <= 4; t++) {
    const v = (max / 4) * t;
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${Math.round(v)}</text>`);
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/>`);
  }
  parts.push(
    `<text x="14" y="${height / 2}" transform="rotate(-90 14 ${height / 2})" text-anchor="middle">per second</text>`,
  );
  parts.push(
    legend(width - 330, height - 14, [["append-message over HTTP", colors.http], ["same SQL via pgbench", colors.sql]]),
  );
  return svg(width, height, parts);
}

function scalingChart(rows: ScaleRow[]): string {
  const width = 760, height = 300, top = 30, bottom = 50, left = 60, right = 30;
  const series: [string, string, (r: ScaleRow) => number][] = [
    ["append to the long chat (HTTP, p50)", colors.append, (r) => r.append.p50],
    ["page of 50 after a cursor (p50)", colors.page, (r) => r.pageRead.p50],
    ["1,000 chats with unread flags (p50)", colors.listing, (r) => r.unreadListing.p50],
  ];
  const max = Math.max(...rows.flatMap((r) => series.map(([, , f]) => f(r)))) * 1.2 || 1;
  const logs = rows.map((r) => Math.log10(r.messages));
  const [lo, hi] = [Math.min(...logs), Math.max(...logs)];
  const x = (m: number) => left + (width - left - right) * ((Math.log10(m) - lo) / (hi - lo || 1));
  const y = (v: number) => top + (height - top - bottom) * (1 - v / max);
  const parts: string[] = [];
  for (let t = 0; t <= 4; t++) {
    const v = (max / 4) * t;
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v.toFixed(1)}</text>`);
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/>`);
  }
  for (const r of rows) {
    parts.push(
      `<text x="${x(r.messages)}" y="${height - bottom + 18}" text-anchor="middle">${
        r.messages.toExponential(0)
      }</text>`,
    );
  }
  for (const [, color, f] of series) {
    const points = rows.map((r) => `${x(r.messages)},${y(f(r))}`).join(" ");
    parts.push(`<polyline points="${points}" fill="none" stroke="${color}" stroke-width="2.5"/>`);
    for (const r of rows) parts.push(`<circle cx="${x(r.messages)}" cy="${y(f(r))}" r="4" fill="${color}"/>`);
  }
  parts.push(`<text x="14" y="${height / 2}" transform="rotate(-90 14 ${height / 2})" text-anchor="middle">ms</text>`);
  parts.push(
    `<text x="${(width + left) / 2}" y="${height - 14}" text-anchor="middle">messages in chat_messages</text>`,
  );
  parts.push(legend(left + 10, top + 4, series.map(([label, color]) => [label, color]), true));
  return svg(width, height, parts);
}

function legend(x: number, y: number, items: [string, string][], vertical = false): string {
  return items.map(([label, color], i) => {
    const dx = vertical ? 0 : i * 190, dy = vertical ? i * 16 : 0;
    return `<rect x="${x + dx}" y="${y + dy - 9}" width="10" height="10" fill="${color}"/>` +
      `<text x="${x + dx + 14}" y="${y + dy}" font-size="11">${escape(label)}</text>`;
  }).join("");
}

const svg = (w: number, h: number, parts: string[]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">` +
  `<rect width="100%" height="100%" fill="white"/>${parts.join("")}</svg>\n`;

function appendTable(rows: AppendRow[]): string[] {
  return [
    "Two baselines, both pgbench: the function's exact text (the same SQL the function sends, with its timeouts, " +
    "deferred hints and second transaction: the ratio is the HTTP layer's own cost), and the bare call (the " +
    "caller's identity and append_message in one round trip: the ratio is what the whole API costs over the limit).",
    "",
    "| shape | concurrency | HTTP req/s | HTTP p50 / p95 / p99 ms | errors | function's text tx/s | p50 / p99 ms | ratio (rounds) | bare call tx/s | p50 / p99 ms | ratio to bare |",
    "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |",
    ...rows.map((x) =>
      `| ${x.shape} | ${x.concurrency} | ${x.http.rps} | ${x.http.p50} / ${x.http.p95} / ${x.http.p99} | ${x.http.errors} | ` +
      `${x.sql.rps} | ${x.sql.p50} / ${x.sql.p99} | **${x.ratio}** (${x.ratios.join(", ")}) | ` +
      `${x.bare?.rps ?? "–"} | ${x.bare ? `${x.bare.p50} / ${x.bare.p99}` : "–"} | **${x.bareRatio ?? "–"}** |`
    ),
  ];
}

/** Where each side's CPU went, per request: the API's own cost is the function process's column. */
function cpuTable(rows: AppendRow[]): string[] {
  const shown = (value: number | undefined) => value ?? "–";
  return [
    "CPU per request (µs, all cores), from `/proc`: the machine's busy time (steal left out) and the part of it each " +
    "process spent: the function process, PostgreSQL (postmaster and backends), the load client; *other* is the rest " +
    "(the kernel's interrupt work, such as loopback networking, this benchmark's own process, anything else on the " +
    "machine). Each figure is its own median over the rounds, so a row need not add up exactly. The CPU ratio is the " +
    "pgbench side's total over the HTTP side's: the throughput ratio a saturated machine tends to.",
    "",
    "| shape | concurrency | HTTP side: total | function process | PostgreSQL | wrk | other | pgbench side: total | PostgreSQL | pgbench | other | CPU ratio |",
    "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |",
    ...rows.map(({ shape, concurrency, cpu: { http, sql } }) => {
      const ratio = Math.round(sql.total / Math.max(http.total, 1) * 100) / 100;
      return `| ${shape} | ${concurrency} | ${http.total} | ${shown(http.functions)} | ${shown(http.postgres)} | ` +
        `${http.client} | ${http.other} | ${sql.total} | ${shown(sql.postgres)} | ${sql.client} | ` +
        `${sql.other + (sql.functions ?? 0)} | ${ratio} |`;
    }),
  ];
}

/** One commit mode's append results: chart, table, and the target at shape (a), concurrency 16. */
function appendSection(title: string, intro: string[], chart: string, rows: AppendRow[], minRatio: number): string[] {
  return [
    `### ${title}`,
    "",
    ...intro,
    `![append-message throughput, ${title.split(" ")[0].toLowerCase()}](${chart})`,
    "",
    ...appendTable(rows),
    "",
    verdict(rows, minRatio),
    "",
    ...cpuTable(rows),
    "",
  ];
}

/** The target at shape (a), concurrency 16, and whether this run met it. */
function verdict(rows: AppendRow[], minRatio: number): string {
  const a16 = rows.find((x) => x.shape === "a" && x.concurrency === 16);
  if (!a16) return "";
  const met = a16.ratio >= minRatio && a16.http.p99 < 25 && a16.http.errors === 0;
  return `Target at shape (a), concurrency 16: ratio ≥ ${minRatio}, p99 < 25 ms, zero errors. Measured: ratio ` +
    `${a16.ratio}, p99 ${a16.http.p99} ms (the SQL baseline's own p99: ${a16.sql.p99} ms), ${a16.http.errors} ` +
    `errors: **${met ? "met" : "not met"}**.` +
    (a16.bareRatio === undefined ? "" : ` Against the bare call (target ≥ 0.8 CPU-bound): ${a16.bareRatio}, ` +
      `**${a16.bareRatio >= 0.8 ? "met" : "not met"}**.`);
}

export async function writeReport(dir: string, r: Results): Promise<void> {
  if (r.append.length) await writeFile(path.join(dir, "bench-append.svg"), appendChart(r.append));
  if (r.appendCpuBound.length) await writeFile(path.join(dir, "bench-append-cpu.svg"), appendChart(r.appendCpuBound));
  if (r.scaling.length > 1) await writeFile(path.join(dir, "bench-scaling.svg"), scalingChart(r.scaling));

  const rows = [...r.append, ...r.appendCpuBound];
  const shared = rows.reduce((sum, x) => sum + (x.http.shared ?? 0), 0);
  const first = r.scaling[0], last = r.scaling.at(-1);
  const growth = (f: (s: ScaleRow) => number) => first && last ? (f(last) / f(first)).toFixed(2) : "n/a";
  const lines: string[] = [
    "# Benchmarks",
    "",
    `Measured by \`npm run bench\` on ${r.date.slice(0, 10)}: ${r.machine.cpus} cores (${r.machine.cpu ?? "?"}), ` +
    `${r.machine.memoryGiB} GiB; client (wrk, pgbench), Deno and PostgreSQL 15 on the same host. Each configuration ran ` +
    `${r.settings.rounds} time(s) for ${r.settings.seconds} s, interleaved; figures are medians. Absolute numbers on a ` +
    "shared machine are noise; the ratios, measured in the same run, are the signal. Load average during the run " +
    `(1 minute, sampled every 10 s): median ${r.machine.load.median.toFixed(1)}, max ${
      r.machine.load.max.toFixed(1)
    } ` +
    `on ${r.machine.cpus} cores (a load far above the number of cores means other work competed for them).`,
    "",
  ];
  if (r.append.length) {
    lines.push(
      "## append-message: the API against the raw-SQL limit",
      "",
      "HTTP: `wrk` posting `append-message` with a user JWT. Baseline: `pgbench` sending exactly the text the function " +
        "sends to PostgreSQL (the same `set_config` identity switch and the same `append_message` call, one " +
        "simple-protocol query per request) with the same concurrency and chat shape. Both clients run the same number " +
        "of threads (`wrk -t` = `pgbench -j` = min(concurrency, 2)), so the HTTP client takes no more CPU than the SQL " +
        "client. Shape (a) has one writer per chat on both sides: a pgbench client owns its chat; a wrk thread hands " +
        `each request a chat with no request in flight (requests that found none and shared a chat: ${shared}). The ` +
        "ratio is HTTP throughput / baseline throughput: the cost of the API layer (HTTP, JWT verification, " +
        "validation, JSON, the extra processes on the same two cores).",
      "",
      ...appendSection(
        "Durable (every commit waits for its WAL flush, as in production)",
        [],
        "bench-append.svg",
        r.append,
        0.7,
      ),
    );
    if (r.appendCpuBound.length) {
      lines.push(...appendSection(
        "CPU-bound (`synchronous_commit = off` on the cluster, for both sides)",
        [
          "The same runs, interleaved with the durable ones round by round, with commits no longer waiting for the " +
          "disk: what is left is CPU, so this ratio shows the API's own cost without flush-latency noise.",
          "",
        ],
        "bench-append-cpu.svg",
        r.appendCpuBound,
        0.8,
      ));
    }
    lines.push(
      `Every run's rows were counted afterwards: stored messages ${
        rows.every((x) => x.storedMatchesAcknowledged) ? "matched" : "did NOT match"
      } the requests each side completed. Where the time goes, what was changed and what is left: ` +
        "[performance.md](performance.md).",
      "",
    );
  }
  if (Object.keys(r.others).length) {
    lines.push(
      "## mark-read and log-workflow-step at concurrency 16",
      "",
      "| function | req/s | p50 / p95 / p99 ms | errors |",
      "| --- | --: | --: | --: |",
      ...Object.entries(r.others).map(([name, x]) =>
        `| ${name} | ${x.rps} | ${x.p50} / ${x.p95} / ${x.p99} | ${x.errors} |`
      ),
      "",
    );
  }
  if (r.scaling.length) {
    lines.push(
      "## Scaling with the size of the data",
      "",
      "`chat_messages` rebuilt in bulk with SQL at each size: half the rows in one long chat, the rest spread over the " +
        "other chats (one account with 1,000 chats, ten accounts with 100). Append: wrk, one connection, to the long chat. " +
        "Page read and listing: pgbench, one client, as role `authenticated` with the account's claims (what Supabase's " +
        "REST API runs), RLS applied.",
      "",
      "![latency against data size](bench-scaling.svg)",
      "",
      "| messages | append p50 / p99 ms | page of 50 p50 / p99 ms | 1,000 chats with unread p50 / p99 ms |",
      "| --: | --: | --: | --: |",
      ...r.scaling.map((s) =>
        `| ${
          s.messages.toLocaleString("en")
        } | ${s.append.p50} / ${s.append.p99} | ${s.pageRead.p50} / ${s.pageRead.p99} | ` +
        `${s.unreadListing.p50} / ${s.unreadListing.p99} |`
      ),
      "",
      `Growth from the smallest to the largest size (p50): append ${growth((s) => s.append.p50)}×, page read ` +
        `${growth((s) => s.pageRead.p50)}×, unread listing ${growth((s) => s.unreadListing.p50)}× ` +
        "(targets: page read and append within 1.5×; listing under 10 ms p50).",
      "",
    );
    if (last?.plans) {
      lines.push(
        `Plans at ${last.messages.toLocaleString("en")} messages (\`explain analyze\`, as the user):`,
        "",
        "```",
        last.plans.pageRead,
        "```",
        "",
        "```",
        last.plans.unreadListing,
        "```",
        "",
      );
    }
  }
  if (r.reads) lines.push(...readsSection(r.reads));
  if (r.follow) lines.push(...followSection(r.follow));
  if (r.runControl) lines.push(...runControlSection(r.runControl));
  if (r.streaming) lines.push(...streamingSection(r.streaming, r.machine.cpus, r.settings.seconds));
  const startup = r.startup;
  if (startup) {
    lines.push(
      "## Start-up",
      "",
      "| command | median s | runs |",
      "| --- | --: | --- |",
      `| \`npm start\`, cold (no data folder) | ${median(startup.cold).toFixed(2)} | ${
        startup.cold.map((v) => v.toFixed(2)).join(", ")
      } |`,
      `| \`npm start\`, warm | ${median(startup.warm).toFixed(2)} | ${
        startup.warm.map((v) => v.toFixed(2)).join(", ")
      } |`,
      `| \`npm run db:reset\` (starting and stopping PostgreSQL itself) | ${median(startup.dbReset).toFixed(2)} | ${
        startup.dbReset.map((v) => v.toFixed(2)).join(", ")
      } |`,
      "",
      "Measured from launching the command to the stack printing its keys (or the reset exiting), in a temporary data " +
        "folder on free ports. Targets: cold < 15 s, warm < 5 s, db:reset < 5 s.",
      "",
    );
  }
  await writeFile(path.join(dir, "benchmarks.md"), lines.join("\n"));
}
