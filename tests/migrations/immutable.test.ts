// Once a migration is on main it is never edited, renamed or deleted: databases that already ran it
// would never see the change. Every migration file git has ever recorded must still exist with the
// exact content it was first committed with. Fix forward with a new migration instead.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";

const git = (...args: string[]) => execFileSync("git", args, { cwd: projectRoot, encoding: "utf8" });

it("no committed migration was modified, renamed or deleted", () => {
  expect(git("rev-parse", "--is-shallow-repository").trim(), "needs the full history: git fetch --unshallow")
    .toBe("false");
  const added = git("log", "--reverse", "--diff-filter=A", "--format=%H", "--name-only", "--", "supabase/migrations");
  const firstCommitOf = new Map<string, string>();
  let commit = "";
  for (const line of added.split("\n").filter(Boolean)) {
    if (/^[0-9a-f]{40}$/.test(line)) commit = line;
    else if (!firstCommitOf.has(line)) firstCommitOf.set(line, commit);
  }
  expect(firstCommitOf.size).toBeGreaterThan(0);

  const problems: string[] = [];
  for (const [file, first] of firstCommitOf) {
    const onDisk = path.join(projectRoot, file);
    if (!existsSync(onDisk)) {
      problems.push(`${file} was deleted or renamed (added in ${first.slice(0, 7)})`);
    } else if (readFileSync(onDisk, "utf8") !== git("show", `${first}:${file}`)) {
      problems.push(`${file} differs from the version added in ${first.slice(0, 7)}`);
    }
  }
  expect(problems, "write a new migration instead of editing an applied one").toEqual([]);
});
