// bench/wake-cost.ts, the one-off measurement behind "Concurrency 1" in docs/performance.md, still
// runs in both runtimes and reports a CPU cost per wake for each (a short run: 200 wakes, 1 round).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

describe("bench/wake-cost.ts", () => {
  it("reports what one wake from a 1 ms sleep costs Deno and Node", async () => {
    const { stdout } = await promisify(execFile)("npx", ["tsx", "bench/wake-cost.ts"], {
      env: { ...process.env, N: "200", R: "1" },
    });
    const perWake = Object.fromEntries(
      [...stdout.matchAll(/^\s+(Deno|Node) \(setTimeout\)\s+(\d+) µs/gm)].map((
        [, runtime, us],
      ) => [runtime, Number(us)]),
    );
    expect(Object.keys(perWake).sort()).toEqual(["Deno", "Node"]);
    for (const us of Object.values(perWake)) {
      // Waking costs something, and far less than the 1 ms slept.
      expect(us).toBeGreaterThan(0);
      expect(us).toBeLessThan(1000);
    }
  }, 60_000);
});
