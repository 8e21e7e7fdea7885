// The documentation's examples run as written. Every ```sh and ```ts block in README.md and in the
// documents under docs/ that `documents` lists runs (blocks fenced
// in another language, such as ```text, do not) against a throwaway stack seeded with
// supabase/seed.sql, with the stack's port put in place of 54321. Two blocks are the setup rather than
// examples: the shell setup (```sh setup) runs once per pass and every example gets the environment
// it exports; a TypeScript example runs with the project's tsx as a .mts file made of the TypeScript
// setup (```ts setup) followed by the example, in a folder under node_modules/.cache so that its
// imports resolve from node_modules.
//
// All examples run in README order, twice: they create things under fixed ids, so the second pass is
// a retry of the first and must succeed as well. An example must exit 0, and a shell example's output,
// if it prints any, must be JSON that is not an error. A block fenced ```sh expect-error must instead
// exit non-zero and print the API's JSON error. A block fenced ```sh stream follows an event stream,
// which never ends by itself: it must stop curl with --max-time, exit 0 or 28 (curl's "timed out")
// and print at least one `event: chat`. The TypeScript blocks must also pass a strict tsc.
import { type ChildProcess, execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";
import { seed } from "../../scripts/local-stack/database.ts";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { startWorker } from "../support/worker.ts";

interface Block {
  /** The document it is in. */
  file: string;
  lang: string;
  flags: string[];
  code: string;
  /** Line of the opening fence in its document. */
  line: number;
  heading: string;
}

/** Fenced code blocks (fences at the start of a line), with the heading they stand under. */
function codeBlocks(file: string, markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    heading = /^#+\s+(.*)/.exec(lines[i])?.[1] ?? heading;
    const fence = /^```(.*)$/.exec(lines[i]);
    if (!fence) continue;
    const [lang = "", ...flags] = fence[1].trim().split(/\s+/).filter(Boolean);
    const line = i + 1, body: string[] = [];
    while (++i < lines.length && !/^```\s*$/.test(lines[i])) body.push(lines[i]);
    if (i === lines.length) throw new Error(`${file}:${line}: the code block is never closed`);
    blocks.push({ file, lang, flags, code: body.join("\n") + "\n", line, heading });
  }
  return blocks;
}

/** Fence languages and what they mean; `flags` are the words allowed after the language. */
const languages: Record<string, { runs: boolean; flags: string[] }> = {
  sh: { runs: true, flags: ["setup", "expect-error", "stream"] },
  ts: { runs: true, flags: ["setup"] },
  // React components: type-checked (strict, against the installed @ai-sdk/react and react), not run.
  tsx: { runs: false, flags: [] },
  text: { runs: false, flags: [] },
  json: { runs: false, flags: [] },
};

/** The documents whose examples run, in the order a reader meets them. */
const documents = [
  "README.md",
  "docs/api.md",
  "docs/run-control.md",
  "docs/streaming.md",
  "docs/conversation-control.md",
  "docs/architecture.md",
  "docs/operations.md",
];
const blocks = documents.flatMap((file) => codeBlocks(file, readFileSync(path.join(projectRoot, file), "utf8")));
const isSetup = (block: Block) => block.flags.includes("setup");
const setupOf = (lang: string) => {
  const found = blocks.filter((block) => block.lang === lang && isSetup(block));
  if (found.length !== 1) {
    throw new Error(`the documents need exactly one \`\`\`${lang} setup block, have ${found.length}`);
  }
  return found[0];
};
const shSetup = setupOf("sh"), tsSetup = setupOf("ts");
const examples = blocks.filter((block) => languages[block.lang]?.runs && !isSetup(block));

let stack: ThrowawayStack;
let workDir: string;
/** The README's local API port, replaced by the throwaway stack's. */
const localize = (code: string) => {
  const [readmeApi, port] = ["127.0.0.1:54321", new URL(stack.apiUrl).port];
  // Never reach a stack someone runs on the default ports.
  if (/\b5432[12]\b/.test(code.replaceAll(readmeApi, ""))) {
    throw new Error(`a block names a port other than ${readmeApi}`);
  }
  return code.replaceAll(readmeApi, `127.0.0.1:${port}`);
};

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; output: string; stdout: string }>((resolve) => {
    execFile(file, args, { cwd: projectRoot, env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, output: `exit ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}` });
    });
  });
}

const bash = (script: string, env: NodeJS.ProcessEnv) =>
  run("bash", ["-c", `set -euo pipefail\n${localize(script)}`], env);

/** Runs the shell setup and returns the environment it leaves, checking each export is non-empty. */
async function runShellSetup(): Promise<NodeJS.ProcessEnv> {
  const printEnv = `"${process.execPath}" -e 'process.stdout.write(JSON.stringify(process.env))'`;
  const result = await bash(`${shSetup.code}\n${printEnv}`, process.env);
  expect(result.code, result.output).toBe(0);
  const env = JSON.parse(result.stdout) as NodeJS.ProcessEnv;
  // `export X=$(cmd)` does not fail when cmd does: catch it by the empty value.
  for (const [, name] of shSetup.code.matchAll(/^export (\w+)=/gm)) {
    expect(env[name], `the shell setup left ${name} empty`).toBeTruthy();
  }
  return env;
}

/** The example as a file of its own: the setup first, and the project's client helpers imported from the project. */
const tsFile = (block: Block) =>
  localize(`${tsSetup.code}\n// ${block.file}:${block.line}\n${block.code}`)
    .replaceAll('from "./client/', `from "${projectRoot}/client/`);

beforeAll(async () => {
  stack = await throwawayStack();
  await seed(stack.sql);
  await mkdir(path.join(projectRoot, "node_modules/.cache"), { recursive: true });
  workDir = await mkdtemp(path.join(projectRoot, "node_modules/.cache/readme-examples-"));
});

afterAll(async () => {
  await stack?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

it("every code block names a known language and flags, and there are examples to run", () => {
  const unknown = blocks
    .filter(({ lang, flags }) => !languages[lang] || flags.some((flag) => !languages[lang].flags.includes(flag)))
    .map(({ file, lang, flags, line }) => `${file}:${line}: \`\`\`${[lang, ...flags].join(" ")}`);
  expect(unknown, `fence languages: ${Object.keys(languages).join(", ")}`).toEqual([]);
  expect(examples.filter((block) => block.lang === "sh").length).toBeGreaterThan(0);
  expect(examples.filter((block) => block.lang === "ts").length).toBeGreaterThan(0);
});

it("the TypeScript examples typecheck (strict)", async () => {
  const dir = path.join(workDir, "typecheck");
  await mkdir(dir);
  const files = [];
  for (const block of examples.filter((example) => example.lang === "ts")) {
    const file = path.join(dir, `${path.basename(block.file, ".md")}-${block.line}.mts`);
    await writeFile(file, tsFile(block));
    files.push(file);
  }
  const tsc = path.join(projectRoot, "node_modules/.bin/tsc");
  const options = ["--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", "--module", "nodenext"];
  const result = await run(
    tsc,
    [...options, "--moduleResolution", "nodenext", "--types", "node", "--allowImportingTsExtensions", ...files],
    process.env,
  );
  expect(result.code, result.output).toBe(0);
});

it("the React examples typecheck (strict) against the installed @ai-sdk/react", async () => {
  const components = blocks.filter((block) => block.lang === "tsx");
  expect(components.length).toBeGreaterThan(0);
  const dir = path.join(workDir, "typecheck-tsx");
  await mkdir(dir);
  const files = [];
  for (const block of components) {
    const file = path.join(dir, `${path.basename(block.file, ".md")}-${block.line}.tsx`);
    await writeFile(file, block.code);
    files.push(file);
  }
  const options = ["--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", "--module", "esnext"];
  const result = await run(
    path.join(projectRoot, "node_modules/.bin/tsc"),
    [
      ...options,
      "--moduleResolution",
      "bundler",
      "--jsx",
      "react-jsx",
      "--lib",
      "es2022,dom",
      "--types",
      "react",
      ...files,
    ],
    process.env,
  );
  expect(result.code, result.output).toBe(0);
});

for (const pass of [1, 2]) {
  // The second run has the example worker running, as the README's three-terminal flow leaves it: the
  // examples must not depend on whether one runs.
  describe(pass === 1 ? "first run" : "second run (a retry of the first), with npm run worker running", () => {
    let env: NodeJS.ProcessEnv;
    let worker: ChildProcess | undefined;
    beforeAll(async () => {
      env = await runShellSetup();
      if (pass === 2) {
        worker = startWorker(stack);
      }
    });
    afterAll(() => void worker?.kill("SIGKILL"));

    for (const block of examples) {
      const name = `${block.heading}: ${block.file}:${block.line} (${[block.lang, ...block.flags].join(" ")})`;
      it(name, async () => {
        if (block.lang === "ts") {
          const file = path.join(workDir, `pass${pass}-${path.basename(block.file, ".md")}-${block.line}.mts`);
          await writeFile(file, tsFile(block));
          const result = await run(path.join(projectRoot, "node_modules/.bin/tsx"), [file], env);
          expect(result.code, result.output).toBe(0);
          return;
        }
        const result = await bash(block.code, env);
        if (block.flags.includes("stream")) {
          expect(block.code, "a stream example must stop curl with --max-time").toMatch(/--max-time \d+/);
          expect([0, 28], result.output).toContain(result.code);
          expect(result.stdout, result.output).toContain("event: chat");
          return;
        }
        if (block.flags.includes("expect-error")) {
          expect(result.code, result.output).not.toBe(0);
          expect(parseJson(result.stdout), result.output).toMatchObject({ error: { code: expect.any(String) } });
          return;
        }
        expect(result.code, result.output).toBe(0);
        if (result.stdout.trim()) {
          const printed = parseJson(result.stdout);
          expect(printed, `not JSON:\n${result.output}`).toBeTypeOf("object");
          expect(printed, result.output).not.toHaveProperty("error");
        }
      });
    }

    it("leaves every chat idle: nothing for a worker started later to answer", async () => {
      const busy = () => stack.sql`select id, status from chats where status <> 'idle' order by id`;
      for (let waited = 0; (await busy()).length > 0 && waited < 15_000; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await busy()).toEqual([]);
    });
  });
}
