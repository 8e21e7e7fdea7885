// Workload 1b: what the read-and-follow and run-control triggers cost an append, measured in this
// run. Workload 1's baseline (pgbench sending exactly append-message's SQL text, durable commits)
// against fresh databases of the benchmark's cluster, interleaved round by round:
//   before     the schema before those features (migrations older than `featuresVersion`);
//   features   the schema with those two features and nothing later (older than `laterVersion`):
//              each append takes a revision, may change the run status, moves its session's
//              updated_at, and sends pg_notify('chat_changes') (and pg_notify('chat_work') when the
//              chat becomes pending) inside its transaction;
//   unfixed    every migration before `fixVersion` (usage and budgets check the account's budget on
//              every user message), still notifying inside the transaction;
//   followed   the schema as it is, sent as the functions send it now: the hints go out after the
//              commit, in a second, non-durable transaction, and the session's updated_at is moved
//              only when no other transaction is moving it (migration 20261125160000); every chat
//              is followed (registered as a follow-chat feed registers it), so every change is announced;
//   now        the same with nobody following: chat_changes hints are skipped (migration 20261125170000).
// Why `unfixed` and `features` make appends wait for one another until commit: PostgreSQL serialises
// the commits of every notifying transaction in the cluster (a global lock taken when the
// notification is queued and held until the commit is flushed), and moving the session's updated_at
// locked the session's row, which every chat of the session shares.
import type { Bench, Shape } from "./append.ts";
import { appendScript, makeChats } from "./append.ts";
import { connect, prepareDatabase, recreateDatabase } from "../local-stack/database.ts";
import { type LoadResult, median, pgbench } from "./tools.ts";

/** The first migration of read-and-follow, the first after run control, and the fix of the commit waits. */
export const featuresVersion = "20261125110000", laterVersion = "20261125130000", fixVersion = "20261125160000";
/** A variant's schema (the migrations older than `until`; all without), whether its hints go after commit, and whether its chats are followed. */
interface Schema {
  until?: string;
  announce: boolean;
  followed?: boolean;
}
const schemas = {
  before: { until: featuresVersion, announce: false },
  features: { until: laterVersion, announce: false },
  unfixed: { until: fixVersion, announce: false },
  followed: { announce: true, followed: true },
  now: { announce: true },
} satisfies Record<string, Schema>;
export const variants = Object.keys(schemas) as Variant[];
export type Variant = keyof typeof schemas;
/** One writer per chat (all chats in one session, as in workload 1), alone and sixteen at once. */
export const triggerConfigs: { shape: Shape; concurrency: number }[] = [
  { shape: "a", concurrency: 1 },
  { shape: "a", concurrency: 16 },
];

/** Creates the databases next to the benchmark's own; returns their URLs. */
export async function prepareVariants(bench: Bench): Promise<Record<Variant, string>> {
  const urls = {} as Record<Variant, string>;
  for (const variant of variants) {
    const url = Object.assign(new URL(bench.databaseUrl), { pathname: `/bench_${variant.replace("-", "_")}` })
      .toString();
    await recreateDatabase(url);
    await prepareDatabase(url, { until: (schemas[variant] as Schema).until });
    urls[variant] = url;
  }
  return urls;
}

export interface TriggerRun {
  variant: Variant;
  shape: Shape;
  concurrency: number;
  sql: LoadResult;
}

export async function triggerRun(
  bench: Bench,
  url: string,
  variant: Variant,
  shape: Shape,
  concurrency: number,
  round: number,
): Promise<TriggerRun> {
  const sql = connect(url, { max: 1 });
  try {
    const prefix = `${variant}-${shape}${concurrency}-r${round}-`;
    const owner = await makeChats(sql, prefix, shape === "a" ? concurrency : 1);
    const chat = shape === "a" ? `${prefix}:client_id` : `${prefix}0`;
    const schema: Schema = schemas[variant];
    if (schema.followed) {
      await sql`select public.follow_chats(array(select id from public.chats where id like ${prefix + "%"}))`;
    }
    return {
      variant,
      shape,
      concurrency,
      sql: await pgbench(
        url,
        appendScript(owner.accountId, chat, schema.announce),
        concurrency,
        Math.max(2, bench.seconds / 2),
      ),
    };
  } finally {
    await sql.end();
  }
}

export interface TriggerRow {
  shape: Shape;
  concurrency: number;
  /** Median tx/s and p50 / p99 per variant, and each round's tx/s. */
  variants: Record<Variant, { rps: number; p50: number; p99: number; rounds: number[]; errors: number }>;
}

export function triggerRows(runs: TriggerRun[]): TriggerRow[] {
  return triggerConfigs.map(({ shape, concurrency }) => ({
    shape,
    concurrency,
    variants: Object.fromEntries(variants.map((variant) => {
      const mine = runs.filter((r) => r.variant === variant && r.shape === shape && r.concurrency === concurrency);
      return [variant, {
        rps: median(mine.map((r) => r.sql.rps)),
        p50: median(mine.map((r) => r.sql.p50)),
        p99: median(mine.map((r) => r.sql.p99)),
        rounds: mine.map((r) => r.sql.rps),
        errors: mine.reduce((sum, r) => sum + r.sql.errors, 0),
      }];
    })) as TriggerRow["variants"],
  }));
}

export function triggerSection(rows: TriggerRow[]): string[] {
  const cell = (v: TriggerRow["variants"][Variant]) => `${v.rps} (${v.p50} / ${v.p99})`;
  const ratio = (v: TriggerRow["variants"], variant: Variant) => (v[variant].rps / v.before.rps).toFixed(2);
  return [
    "## append-message's SQL before and after the follow and run-control triggers",
    "",
    "pgbench sending exactly append-message's SQL text (durable commits; shape a: one writer per chat, all chats " +
    "in one session), in this run, against fresh databases of the same cluster, interleaved round by round: " +
    "**before** (the schema before read-and-follow and run control), **features** (with those two features and " +
    "nothing later: a revision per change, the run status, the session's `updated_at` moved, `pg_notify` on every " +
    "chat change inside the transaction), **unfixed** (every migration before 20261125160000: usage and budgets " +
    "also check the account's budget on every user message), **now** (the schema and the text as they are: " +
    "the hints sent after the commit in a second, non-durable transaction, the session's `updated_at` moved " +
    "only when no other transaction is moving it, and `chat_changes` hints only for followed chats: none are " +
    "followed here), and **followed** (the same with every chat followed, so every change is announced). PostgreSQL serialises the commits of all transactions that " +
    "notify inside themselves (a cluster-wide lock held until the commit is flushed), and the old session touch " +
    "locked the session's row until commit. Cells: tx/s (p50 / p99 ms), medians of the rounds; ratios are tx/s " +
    "against before.",
    "",
    `| shape | concurrency | ${variants.join(" | ")} | ${
      variants.slice(1).map((v) => `${v} / before`).join(" | ")
    } | errors |`,
    `| --- | --: | ${variants.map(() => "--:").join(" | ")} | ${
      variants.slice(1).map(() => "--:").join(" | ")
    } | --: |`,
    ...rows.map(({ shape, concurrency, variants: v }) =>
      `| ${shape} | ${concurrency} | ${variants.map((variant) => cell(v[variant])).join(" | ")} | ${
        variants.slice(1).map((variant) => variant === "now" ? `**${ratio(v, variant)}**` : ratio(v, variant))
          .join(" | ")
      } | ${variants.reduce((sum, variant) => sum + v[variant].errors, 0)} |`
    ),
    "",
    `Each round's tx/s (${variants.join(" / ")}): ${
      rows.map(({ shape, concurrency, variants: v }) =>
        `${shape}${concurrency}: ${variants.map((variant) => v[variant].rounds.join(", ")).join(" / ")}`
      ).join("; ")
    }.`,
    "",
  ];
}
