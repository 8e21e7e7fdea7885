// A deadline that counts only time during which this process's event loop was running.
//
// A wall-clock timer cannot tell "the database did not answer" from "we did not look": when the
// event loop stalls (a long synchronous task, the process paused, a starved CPU), the answer may
// already sit in the socket while the timer fires late, first. Counting that stall as the
// database's fault opens the circuit breaker and fails requests whose writes had committed. So the
// deadline advances in short ticks, and a tick that fires late counts as one tick, not as the time
// it missed: after a stall the pending answers are read before the deadline can expire.
// Pure (timers only), so the tests run it under Node too.

const tickMs = 100;

/** `work`, or `onExpiry()` once the loop has been responsive for `ms` without `work` settling. */
export function withDeadline<T>(work: Promise<T>, ms: number, onExpiry: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let counted = 0;
    let armedAt = performance.now();
    const tick = () => {
      const now = performance.now();
      counted += Math.min(now - armedAt, tickMs);
      if (counted >= ms) return reject(onExpiry());
      armedAt = now;
      timer = setTimeout(tick, tickMs);
    };
    let timer = setTimeout(tick, Math.min(tickMs, ms));
    work.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error) => (clearTimeout(timer), reject(error)),
    );
  });
}
