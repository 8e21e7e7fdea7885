// CPU per request, by process, over one load run: what each side of a comparison costs the machine.
// Throughput on a shared 2-core box swings from round to round; the CPU a request costs does not, so
// it says where the API's own cost lies (the function process) apart from scheduling noise.
//
// Read from Linux's /proc (proc(5)):
// - the machine's busy time (/proc/stat; steal, time the hypervisor gave to other machines, left out);
// - the function process's own time (/proc/<pid>/stat);
// - PostgreSQL's: the postmaster's own time, its live backends' and its exited backends' (which the
//   postmaster has reaped into its children's time: a backend that ends during the run moves its
//   whole time there, so the difference is still only what it spent during the run);
// - the load generator's: wrk and pgbench run as children of this process, so their time is in its
//   children's time once they have exited.
// What is left, `other`, is the kernel's work outside any process (interrupts, the loopback network's
// soft interrupts), this process's bookkeeping, and whatever else the machine ran.
import { readdirSync, readFileSync } from "node:fs";
import { median } from "./tools.ts";

/** Microseconds of CPU per request. */
export interface CpuPerRequest {
  /** Every core's busy time. */
  total: number;
  /** The function process (Deno); absent when the benchmark did not start it. */
  functions?: number;
  /** PostgreSQL's processes; absent when the benchmark did not start the cluster. */
  postgres?: number;
  /** wrk or pgbench. */
  client: number;
  /** Interrupts, this process, and anything else on the machine. */
  other: number;
}

/** The processes measured apart, when the benchmark started them. */
export interface Measured {
  functionsPid?: number;
  postmasterPid?: number;
}

const ticksPerSecond = 100; // USER_HZ: 100 on every Linux architecture the stack runs on

interface ProcessTimes {
  /** utime + stime, seconds. */
  own: number;
  /** cutime + cstime: children that exited and were waited for, seconds. */
  children: number;
  parent: number;
}

/** A process's times, or undefined once it is gone. */
function times(pid: number | "self"): ProcessTimes | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The fields after the command name (which may hold spaces and parentheses): state is field 3, so
  // index i here is field i + 3: ppid 4, utime 14, stime 15, cutime 16, cstime 17.
  const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ").map(Number);
  return {
    own: (fields[11] + fields[12]) / ticksPerSecond,
    children: (fields[13] + fields[14]) / ticksPerSecond,
    parent: fields[1],
  };
}

/** One live process's own CPU time so far (user + system), in seconds. */
export function processSeconds(pid: number): number {
  const measured = times(pid);
  if (!measured) throw new Error(`no process with pid ${pid}`);
  return measured.own;
}

/** The postmaster's own time, its live children's and its exited children's. */
function postgresSeconds(postmasterPid: number): number {
  const postmaster = times(postmasterPid);
  if (!postmaster) throw new Error(`no PostgreSQL postmaster with pid ${postmasterPid}`);
  let seconds = postmaster.own + postmaster.children;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const child = times(Number(entry));
    if (child?.parent === postmasterPid) seconds += child.own;
  }
  return seconds;
}

function busySeconds(): number {
  const [user, nice, system, , , irq, softirq] = readFileSync("/proc/stat", "utf8").split("\n")[0]
    .trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq) / ticksPerSecond;
}

function sample({ functionsPid, postmasterPid }: Measured) {
  return {
    busy: busySeconds(),
    client: times("self")!.children,
    functions: functionsPid ? times(functionsPid)?.own ?? 0 : 0,
    postgres: postmasterPid ? postgresSeconds(postmasterPid) : 0,
  };
}

/** The name a process runs as (`deno`, `postgres`), or undefined once it is gone. */
export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Starts measuring; the returned function ends it and divides by the requests served. */
export function measureCpu(measured: Measured = {}): (requests: number) => CpuPerRequest {
  const start = sample(measured);
  return (requests) => {
    const end = sample(measured);
    const spent = (field: keyof typeof end) => end[field] - start[field];
    const perRequest = (seconds: number) => Math.round(seconds / Math.max(requests, 1) * 1e6);
    const named = spent("functions") + spent("postgres") + spent("client");
    return {
      total: perRequest(spent("busy")),
      ...(measured.functionsPid ? { functions: perRequest(spent("functions")) } : {}),
      ...(measured.postmasterPid ? { postgres: perRequest(spent("postgres")) } : {}),
      client: perRequest(spent("client")),
      other: perRequest(spent("busy") - named),
    };
  };
}

/** Each field's median over the rounds (the parts measured apart only where the rounds have them). */
export function medianCpu(rounds: CpuPerRequest[]): CpuPerRequest {
  const of = (field: keyof CpuPerRequest) => median(rounds.map((r) => r[field] ?? 0));
  return {
    total: of("total"),
    ...(rounds[0]?.functions === undefined ? {} : { functions: of("functions") }),
    ...(rounds[0]?.postgres === undefined ? {} : { postgres: of("postgres") }),
    client: of("client"),
    other: of("other"),
  };
}
