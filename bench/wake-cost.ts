// What one wake-up from idle costs a process on this machine: `npx tsx bench/wake-cost.ts`.
//
// At concurrency 1 a request wakes every process on its path from sleep: wrk, the function process
// (for the request, then for the database's answer) and a PostgreSQL backend. pgbench's path wakes
// two. Where waking is dear (in a nested VM, as here), that, not the work, decides the
// ratio of the two round trips (docs/performance.md, "Concurrency 1"). This measures the cost alone:
// a loop that sleeps 1 ms on a timer and does nothing else, in Deno (the functions' runtime) and in
// Node for comparison, each its own process's CPU time per wake.
// N wakes per measurement (2000), R rounds (3).
import { spawn } from "node:child_process";
import path from "node:path";
import { projectRoot } from "../scripts/local-stack/config.ts";
import { median } from "./tools.ts";

const wakes = Number(process.env.N ?? 2000), rounds = Number(process.env.R ?? 3);

// The same program for both runtimes: it sleeps 1 ms `wakes` times, then prints the CPU time
// (user + system, µs, from getrusage through node:process) that the loop cost its process.
const timerLoop = `import { cpuUsage } from "node:process"; const start = cpuUsage(); ` +
  `for (let i = 0; i < ${wakes}; i++) await new Promise((wake) => setTimeout(wake, 1)); ` +
  `const { user, system } = cpuUsage(start); console.log(user + system);`;

const runtimes: Record<string, [string, string[]]> = {
  "Deno (setTimeout)": [path.join(projectRoot, "node_modules/.bin/deno"), ["eval", timerLoop]],
  "Node (setTimeout)": [process.execPath, ["--input-type=module", "-e", timerLoop]],
};

function microsecondsOf(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("error", reject);
    child.on("exit", (code) => {
      const microseconds = Number(out.trim().split("\n").at(-1));
      if (code !== 0 || !Number.isFinite(microseconds)) reject(new Error(`${command} printed ${JSON.stringify(out)}`));
      else resolve(microseconds);
    });
  });
}

const perWake: Record<string, number[]> = {};
for (let round = 0; round < rounds; round++) {
  for (const [name, [command, args]] of Object.entries(runtimes)) {
    (perWake[name] ??= []).push(Math.round((await microsecondsOf(command, args)) / wakes));
  }
}
console.log(`CPU per wake from a 1 ms sleep (${wakes} wakes, median of ${rounds} rounds):`);
for (const [name, values] of Object.entries(perWake)) {
  console.log(`  ${name.padEnd(18)} ${String(median(values)).padStart(4)} µs   (rounds: ${values.join(", ")})`);
}
