// The connection pool: one per process, reused across requests, with settings that work through
// Supabase's transaction pooler (no prepared statements), and a circuit breaker so a database
// restart costs clients prompt 503s rather than hung requests.
//
// Why the breaker: postgres.js 3.4.9 can leave a query waiting forever on a connection that the
// server closed while it was still starting up (porsager/postgres#1193), so a pool that keeps
// retrying through a restart may never recover. Instead, the first sign that the database is gone
// (a connection error, or no answer in time) opens the breaker: the pool is ended (rejecting what
// was stuck in it), requests fail fast, and a throwaway probe connection checks every 250 ms until
// the database answers; only then is a fresh pool made. "No answer in time" counts only time in
// which this process was listening (deadline.ts): a stalled event loop is never taken for a dead
// database.
//
// Nor is a queue. When every connection is busy, postgres.js pipelines the next call behind a busy
// one (which keeps PostgreSQL's backends from idling between calls), so a call can wait behind
// others that each wait out the lock timeout, and reach its deadline before PostgreSQL reads it. So
// a call's deadline is extended while the database goes on answering other calls, up to
// `extensions` more deadlines: past that, a call that never settles while others do is the driver
// bug above, and the breaker's fresh pool is the remedy.
import postgres from "postgres";
import { config } from "./config.ts";
import { withDeadline } from "./deadline.ts";

const { databaseUrl, connectTimeoutS } = config;

// The pool is DB_POOL_MAX lanes of one connection each, and a call takes the lane freed last. One
// postgres.js pool of four would give a call to the connection idle longest, so under light load
// calls rotate over every connection a burst has opened and each wakes a backend gone cold:
// append-message at concurrency 1 took 2.22 ms after a burst instead of 1.56 (docs/performance.md).
// When every lane is busy, a call goes to the one with the fewest calls in flight, where postgres.js
// pipelines it, as one pool would. A lane unused for idle_timeout closes its connection.
interface Lane {
  sql: ReturnType<typeof postgres>;
  inFlight: number;
}

const createPool = (): Lane[] =>
  Array.from({ length: config.poolMax }, () => ({
    sql: postgres(databaseUrl, {
      prepare: false,
      max: 1,
      idle_timeout: 60,
      connect_timeout: connectTimeoutS,
      max_lifetime: 30 * 60,
      onnotice: () => {},
    }),
    inFlight: 0,
  }));

let pool: Lane[] = [];
/** The lanes with no call in flight, the most recently freed last. */
let free: Lane[] = [];
function usePool(lanes: Lane[]) {
  pool = lanes;
  free = [...lanes].reverse();
}
usePool(createPool());
/** Set while the database is known to be unreachable; settles when a fresh pool is in place. */
let recovering: Promise<void> | undefined;

function take(): Lane {
  return free.pop() ??
    pool.reduce((least, lane) => lane.inFlight < least.inFlight ? lane : least);
}

async function onLane(text: string): Promise<unknown> {
  const lane = take();
  lane.inFlight++;
  try {
    return await lane.sql.unsafe(text).simple().execute();
  } finally {
    lane.inFlight--;
    if (lane.inFlight === 0 && pool.includes(lane)) free.push(lane);
  }
}

export class DatabaseUnavailable extends Error {
  readonly code = "DATABASE_UNAVAILABLE";
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const noAnswer = (ms: number) => () => new DatabaseUnavailable(`no answer from the database in ${ms} ms`);

async function answers(): Promise<boolean> {
  const probe = postgres(databaseUrl, {
    max: 1,
    prepare: false,
    connect_timeout: 2,
    onnotice: () => {},
  });
  try {
    await withDeadline(probe`select 1`.execute(), 2000, noAnswer(2000));
    return true;
  } catch {
    return false;
  } finally {
    probe.end({ timeout: 0 }).catch(() => {});
  }
}

/** Opens the breaker: ends the pool and makes a new one once the database answers again. */
export function databaseIsDown(): void {
  if (recovering) return;
  for (const lane of pool) lane.sql.end({ timeout: 0 }).catch(() => {});
  recovering = (async () => {
    while (!await answers()) await sleep(250);
    usePool(createPool());
    recovering = undefined;
  })();
}

/** When PostgreSQL last answered a call of this process, with a result or an error of its own. */
let lastAnswer = performance.now();
const extensions = 3;

const noteAnswer = () => void (lastAnswer = performance.now());

/**
 * Runs a simple-protocol query (several statements, one implicit transaction, no parameters),
 * giving up after `deadlineMs` without an answer to it or to any other call (at most 1 + extensions
 * deadlines in all). Throws DatabaseUnavailable at once while the breaker is open.
 */
export async function simpleQuery(
  text: string,
  deadlineMs: number,
): Promise<unknown> {
  if (recovering) throw new DatabaseUnavailable("the database is recovering");
  const work = onLane(text);
  work.then(
    noteAnswer,
    (error) => error instanceof postgres.PostgresError && noteAnswer(),
  );
  for (let extended = 0;; extended++) {
    try {
      return await withDeadline(work, deadlineMs, noAnswer(deadlineMs));
    } catch (error) {
      const othersAnswered = performance.now() - lastAnswer < deadlineMs;
      if (
        !(error instanceof DatabaseUnavailable) || !othersAnswered ||
        extended === extensions
      ) throw error;
    }
  }
}
