// The benchmark's CPU accounting: a load client's CPU lands in `client`, and the parts add up.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { measureCpu } from "../../scripts/bench/cpu.ts";

/** Runs a child that spins for a fixed amount of work and reports the CPU it used, in µs. */
function spinningChild(): number {
  const script = "let x = 0; for (let i = 0; i < 3e8; i++) x += i % 7; " +
    "const { user, system } = process.cpuUsage(); process.stdout.write(String(user + system + x * 0));";
  return Number(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }));
}

describe("measureCpu", () => {
  it("counts an exited child's CPU as the client's, per request", () => {
    const stop = measureCpu();
    const childUs = spinningChild();
    const perRequest = stop(2);
    // The child's own figure leaves out its start-up before cpuUsage's clock; /proc counts in 10 ms ticks.
    expect(perRequest.client * 2).toBeGreaterThanOrEqual(childUs - 20_000);
    expect(perRequest.client * 2).toBeLessThan(childUs + 300_000);
    // The machine was busy at least while the child ran.
    expect(perRequest.total).toBeGreaterThanOrEqual(perRequest.client - 10_000);
    expect(perRequest.functions).toBeUndefined();
  });

  it("measures a named process apart", () => {
    const stop = measureCpu(process.pid);
    let x = 0;
    for (let i = 0; i < 1e8; i++) x += i % 7;
    const perRequest = stop(1);
    expect(x).toBeGreaterThan(0);
    expect(perRequest.functions).toBeGreaterThan(10_000);
    expect(perRequest.functions).toBeLessThanOrEqual(perRequest.total + 10_000);
  });
});
