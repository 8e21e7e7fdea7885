// The documentation's links between its documents resolve: the file exists, and an #anchor names one
// of its headings (as GitHub makes anchors from headings). Moving a section breaks a link loudly here.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";

const documents = [
  "README.md",
  "SECURITY.md",
  "CONTRIBUTING.md",
  "docs/api.md",
  "docs/run-control.md",
  "docs/streaming.md",
  "docs/architecture.md",
  "docs/operations.md",
].filter((file) => existsSync(path.join(projectRoot, file)));

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading.trim().toLowerCase().replace(/[`*]/g, "").replace(/[^\p{L}\p{N} _-]/gu, "").replaceAll(" ", "-");

function anchors(file: string): Set<string> {
  const text = readFileSync(path.join(projectRoot, file), "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#+\s+(.+)$/gm)].map((match) => anchorOf(match[1])));
}

it("every link between the documents points at a file that exists and a heading it has", () => {
  const broken: string[] = [];
  for (const file of documents) {
    const text = readFileSync(path.join(projectRoot, file), "utf8").replace(/```[\s\S]*?```/g, "");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [relative, anchor] = target.split("#");
      const linked = relative ? path.normalize(path.join(path.dirname(file), relative)) : file;
      if (!existsSync(path.join(projectRoot, linked))) broken.push(`${file}: ${target} (no such file)`);
      else if (anchor && linked.endsWith(".md") && !anchors(linked).has(anchor)) {
        broken.push(`${file}: ${target} (no such heading)`);
      }
    }
  }
  expect(broken).toEqual([]);
});
