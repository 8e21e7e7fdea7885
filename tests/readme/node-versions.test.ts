// The Node versions the README promises are the ones the locked dependencies accept. package.json's
// `engines` is the promise; every package in package-lock.json must accept every version in it
// (checked with semver over the whole range, so Node 22 and 24 are covered while CI runs 20), and
// `npm ci` on the Node running this test must print no engine warning.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import semver from "semver";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";

const read = (file: string) => readFileSync(path.join(projectRoot, file), "utf8");
const supported: string = JSON.parse(read("package.json")).engines.node;
const lock = JSON.parse(read("package-lock.json")) as {
  packages: Record<string, { version?: string; engines?: { node?: string } }>;
};

describe("supported Node versions", () => {
  it("are stated in the README as package.json declares them", () => {
    expect(semver.validRange(supported)).not.toBeNull();
    expect(read("README.md")).toContain(`\`${supported}\``);
  });

  it("are accepted by every locked package", () => {
    const refusing = Object.entries(lock.packages)
      .filter(([, entry]) => entry.engines?.node && !semver.subset(supported, entry.engines.node))
      .map(([where, entry]) => `${where}@${entry.version} requires node ${entry.engines!.node}`);
    expect(refusing).toEqual([]);
  });

  it("include the Node running this test, and npm ci prints no engine warning on it", async () => {
    expect(semver.satisfies(process.version, supported)).toBe(true);
    const { stdout, stderr } = await promisify(execFile)("npm", ["ci", "--dry-run", "--no-audit", "--no-fund"], {
      cwd: projectRoot,
    });
    expect(stdout + stderr).not.toContain("EBADENGINE");
  });
});
