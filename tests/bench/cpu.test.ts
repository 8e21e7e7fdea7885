// The benchmark's CPU accounting (bench/cpu.ts), with real processes standing in for the
// load client, the function process and PostgreSQL's postmaster with its backends. /proc counts in
// 10 ms ticks; each bound below allows for that and for a process's own start-up.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { measureCpu } from "../../bench/cpu.ts";

const ms = 1000; // µs

/** JavaScript that spins through `iterations` and prints the CPU that took, in µs. */
const spin = (iterations: number) =>
  `{ const before = process.cpuUsage(); let x = 0; for (let i = 0; i < ${iterations}; i++) x += i % 7; ` +
  `const { user, system } = process.cpuUsage(before); console.log(user + system + x * 0); }`;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

/** A Node process running `script`, whose output lines arrive in order. */
function start(script: string) {
  const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return { child, next: async () => (await lines.next()).value as string };
}

describe("measureCpu", () => {
  it("counts a load client that exited as the client's, per request", () => {
    const stop = measureCpu();
    const childUs = Number(execFileSync(process.execPath, ["-e", spin(3e8)], { encoding: "utf8" }));
    const perRequest = stop(2);
    expect(perRequest.client * 2).toBeGreaterThanOrEqual(childUs - 20 * ms);
    expect(perRequest.client * 2).toBeLessThan(childUs + 300 * ms); // + the child's start-up
    expect(perRequest.total).toBeGreaterThanOrEqual(perRequest.client - 10 * ms);
    expect(perRequest.functions).toBeUndefined();
    expect(perRequest.postgres).toBeUndefined();
  });

  it("measures a running function process apart from the client", async () => {
    const functions = start(`${spin(2e8)}; process.stdin.resume()`); // spins, then stays up
    const stop = measureCpu({ functionsPid: functions.child.pid });
    const spentUs = Number(await functions.next());
    const perRequest = stop(1);
    expect(perRequest.functions).toBeGreaterThanOrEqual(spentUs - 20 * ms);
    expect(perRequest.functions).toBeLessThan(spentUs + 300 * ms);
    expect(perRequest.client).toBeLessThan(20 * ms); // it has not exited: not a client's time
  });

  it("counts a postmaster's backends, live and exited, only for their time in the run", async () => {
    // A stand-in postmaster with two backends: one that spins before the run and again during it,
    // then exits (and is reaped); one that spins during the run and stays.
    const backend = (script: string) =>
      `require("node:child_process").spawn(process.execPath, ["-e", ${JSON.stringify(script)}], ` +
      `{ stdio: ["pipe", "inherit", "inherit"] })`;
    const postmaster = start(
      `const leaving = ${
        backend(`${spin(3e8)}; process.stdin.once("data", () => { ${spin(1e8)}; process.exit(0) })`)
      };` +
        `const staying = ${backend(`process.stdin.once("data", () => { ${spin(1e8)}; process.stdin.resume() })`)};` +
        `process.stdin.once("data", () => { leaving.stdin.write("go\\n"); staying.stdin.write("go\\n") });` +
        `leaving.on("exit", () => console.log("reaped"));`,
    );
    const beforeRunUs = Number(await postmaster.next()); // the leaving backend's spin before the run
    const stop = measureCpu({ postmasterPid: postmaster.child.pid });
    postmaster.child.stdin!.write("go\n");
    // Both backends' spins during the run, and the exit of the one that leaves, in whatever order.
    const lines = [await postmaster.next(), await postmaster.next(), await postmaster.next()];
    expect(lines).toContain("reaped");
    const perRequest = stop(1);
    const duringUs = lines.filter((line) => line !== "reaped").map(Number).reduce((a, b) => a + b);
    expect(perRequest.postgres).toBeGreaterThanOrEqual(duringUs - 40 * ms);
    // Had the exited backend's time before the run been counted, this would exceed it.
    expect(perRequest.postgres).toBeLessThan(duringUs + Math.min(beforeRunUs, 150 * ms));
  });
});
