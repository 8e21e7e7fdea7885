// The functions folder keeps to what `supabase functions serve` and `deploy` need when functions live
// outside supabase/functions: the CLI finds the files to mount or upload by walking each entrypoint's
// import statements with a simple pattern, so imports must be static, relative and committed.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";

const functionsDir = path.join(projectRoot, "functions");
const importMap = JSON.parse(readFileSync(path.join(functionsDir, "deno.json"), "utf8")).imports as Record<
  string,
  string
>;
const config = readFileSync(path.join(projectRoot, "supabase/config.toml"), "utf8");
const names = readdirSync(functionsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !entry.name.startsWith("_"))
  .map((entry) => entry.name);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(path.join(dir, entry.name))
      : entry.name.endsWith(".ts")
      ? [path.join(dir, entry.name)]
      : []
  );
}

const specifiers = (source: string) =>
  [...source.matchAll(/^\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']/gm)].map((m) => m[1]);

describe("functions/", () => {
  it("has the API's functions, each an index.ts that calls Deno.serve", () => {
    expect(names.sort()).toEqual([
      "append-chunks",
      "append-message",
      "archive-chat",
      "chat",
      "claim-chats",
      "create-chat",
      "delete-queued-message",
      "edit-message",
      "follow-chat",
      "get-context",
      "get-messages",
      "heartbeat",
      "list-chats",
      "list-sessions",
      "log-workflow-step",
      "mark-read",
      "pin-context",
      "promote-queued-message",
      "push-context",
      "regenerate",
      "respond-to-approval",
      "set-budget",
      "stop-chat",
      "usage",
    ]);
    for (const name of names) {
      expect(readFileSync(path.join(functionsDir, name, "index.ts"), "utf8"), name).toMatch(/Deno\.serve\(/);
    }
  });

  it("declares every function in supabase/config.toml with its entrypoint and import map", () => {
    for (const name of names) {
      const section = new RegExp(
        `\\[functions\\.${name}\\][^\\[]*entrypoint = "\\.\\./functions/${name}/index\\.ts"`,
      );
      expect(config, name).toMatch(section);
      expect(config, name).toMatch(
        new RegExp(`\\[functions\\.${name}\\][^\\[]*import_map = "\\.\\./functions/deno\\.json"`),
      );
      expect(config, name).toMatch(new RegExp(`\\[functions\\.${name}\\][^\\[]*verify_jwt = `));
    }
  });

  it("imports only mapped packages and committed files inside the project, never another function", () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of sourceFiles(functionsDir)) {
      const source = readFileSync(file, "utf8");
      const relative = path.relative(projectRoot, file);
      if (/\bimport\s*\(/.test(source)) problems.push(`${relative}: dynamic import`);
      if (/import\s*\{[^}]*\btype\s+\w+[^}]*\}\s*from\s*["'][^"']*types\/database\.ts/.test(source)) {
        problems.push(`${relative}: use \`import type { ... }\` for the generated types`);
      }
      for (const specifier of specifiers(source)) {
        checked++;
        if (!specifier.startsWith(".")) {
          if (!(specifier in importMap)) problems.push(`${relative}: ${specifier} is not in functions/deno.json`);
          continue;
        }
        const target = path.resolve(path.dirname(file), specifier);
        const fromFunction = path.relative(functionsDir, file).split(path.sep)[0];
        const toFunction = path.relative(functionsDir, target).split(path.sep)[0];
        if (!target.startsWith(projectRoot + path.sep)) problems.push(`${relative}: ${specifier} leaves the project`);
        else if (!existsSync(target)) problems.push(`${relative}: ${specifier} does not exist`);
        else if (isIgnored(target)) problems.push(`${relative}: ${specifier} is git-ignored, so never committed`);
        if (toFunction !== fromFunction && names.includes(toFunction) && !toFunction.startsWith("_")) {
          problems.push(`${relative}: imports from another function (${toFunction})`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  it("maps packages to npm: specifiers at the versions npm installed", () => {
    const lock = JSON.parse(readFileSync(path.join(projectRoot, "package-lock.json"), "utf8"));
    for (const [name, target] of Object.entries(importMap)) {
      const match = /^npm:((?:@[^/]+\/)?[^@]+)@(.+)$/.exec(target);
      expect(match, `${name} -> ${target}`).not.toBeNull();
      expect(lock.packages[`node_modules/${match![1]}`]?.version, name).toBe(match![2]);
    }
  });
});

function isIgnored(file: string): boolean {
  try {
    execFileSync("git", ["check-ignore", "-q", file], { cwd: projectRoot });
    return true;
  } catch {
    return false;
  }
}
