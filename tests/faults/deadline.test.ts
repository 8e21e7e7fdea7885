// The database deadline counts only time in which the event loop ran (functions/_shared/deadline.ts):
// a stalled loop must not be taken for a database that does not answer.
import { expect, it } from "vitest";
import { withDeadline } from "../../functions/_shared/deadline.ts";

/** Blocks this thread, as a long synchronous task or a paused process does. */
const stall = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const expired = () => new Error("expired");
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

it("an answer that arrived while the loop was stalled wins over the deadline", async () => {
  // Wall clock: the deadline (200 ms) is due before the answer (250 ms), and both are overdue when the
  // loop wakes up; a wall-clock timer would fire first and report a dead database.
  const result = withDeadline(after(250, "answer"), 200, expired);
  stall(600);
  await expect(result).resolves.toBe("answer");
});

it("no answer expires after about the deadline of running time", async () => {
  const started = performance.now();
  await expect(withDeadline(new Promise(() => {}), 300, expired)).rejects.toThrow("expired");
  const elapsed = performance.now() - started;
  expect(elapsed).toBeGreaterThanOrEqual(290);
  expect(elapsed).toBeLessThan(1500);
});

it("a stall is not counted, but the running time before and after it is", async () => {
  const started = performance.now();
  const result = withDeadline(new Promise(() => {}), 400, expired);
  await after(150, null);
  stall(1000);
  await expect(result).rejects.toThrow("expired");
  // 150 ms before the stall + at most one tick for the stall + the rest after it.
  expect(performance.now() - started).toBeGreaterThanOrEqual(1000 + 400 - 100 - 20);
});

it("errors and answers pass through", async () => {
  await expect(withDeadline(Promise.resolve(1), 100, expired)).resolves.toBe(1);
  await expect(withDeadline(Promise.reject(new Error("refused")), 100, expired)).rejects.toThrow("refused");
});
