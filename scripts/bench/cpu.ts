// CPU per request, by process, over one load run: what each side of a comparison costs the machine.
// Throughput on a shared 2-core box swings from round to round; the CPU a request costs does not, so
// it says where the API's own cost lies (the function process) apart from scheduling noise.
//
// Read from Linux's /proc: the machine's busy time (/proc/stat), the function process's own
// (/proc/<pid>/stat), and the load generator's (wrk and pgbench run as children of this process, so
// their time is in its children's time once they have exited). What is left is PostgreSQL, plus
// anything else the machine ran meanwhile.
import { readFileSync } from "node:fs";

/** Microseconds of CPU per request. */
export interface CpuPerRequest {
  /** Every core's busy time. */
  total: number;
  /** The function process (Deno); absent against a stack the benchmark did not start. */
  functions?: number;
  /** wrk or pgbench. */
  client: number;
  /** The rest: PostgreSQL, and whatever else ran on the machine. */
  database: number;
}

const ticksPerSecond = 100; // USER_HZ, 100 on every Linux architecture the stack runs on

/** [own, reaped children's] CPU seconds of a process. */
function processSeconds(pid: number | "self"): [number, number] {
  // Fields after the command name (which may hold spaces): utime is the 12th, then stime, cutime, cstime.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ").map(Number);
  return [(fields[11] + fields[12]) / ticksPerSecond, (fields[13] + fields[14]) / ticksPerSecond];
}

function busySeconds(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0]
    .trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / ticksPerSecond;
}

function sample(functionsPid?: number) {
  const [self, children] = processSeconds("self");
  return { busy: busySeconds(), self, children, functions: functionsPid ? processSeconds(functionsPid)[0] : 0 };
}

/** Starts measuring; the returned function ends it and divides by the requests served. */
export function measureCpu(functionsPid?: number): (requests: number) => CpuPerRequest {
  const start = sample(functionsPid);
  return (requests) => {
    const end = sample(functionsPid);
    const perRequest = (seconds: number) => Math.round(seconds / Math.max(requests, 1) * 1e6);
    const total = end.busy - start.busy, functions = end.functions - start.functions;
    const client = end.children - start.children, self = end.self - start.self;
    return {
      total: perRequest(total),
      ...(functionsPid ? { functions: perRequest(functions) } : {}),
      client: perRequest(client),
      database: perRequest(total - functions - client - self),
    };
  };
}
