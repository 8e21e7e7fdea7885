// docs/api/openapi.json and docs/api/README.md are generated from the functions' zod schemas (scripts/openapi.ts). The
// committed files say what the schemas say now, cover every function, and form an OpenAPI 3.1 document whose
// references all resolve.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";
import { generatedFiles } from "../../scripts/openapi.ts";

const generated = generatedFiles();
const document = JSON.parse(generated["docs/api/openapi.json"]);

const functionNames = readdirSync(path.join(projectRoot, "functions"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !entry.name.startsWith("_"))
  .map((entry) => entry.name)
  .sort();

interface Operation {
  operationId: string;
  tags: string[];
  security: Record<string, string[]>[];
  parameters?: { name: string; in: string; required: boolean }[];
  responses: Record<string, unknown>;
}
const operations = Object.entries(document.paths as Record<string, Record<string, Operation>>).flatMap((
  [route, methods],
) => Object.entries(methods).map(([method, op]) => ({ route, method, op })));

/** The value a local JSON pointer (`#/components/schemas/Error`) names in the document, or undefined. */
function resolve(pointer: string): unknown {
  if (!pointer.startsWith("#/")) return undefined;
  return pointer.slice(2).split("/").map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~")).reduce<unknown>(
    (node, part) => node !== null && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined,
    document,
  );
}

function refs(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(refs);
  if (node === null || typeof node !== "object") return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === "$ref" && typeof value === "string" ? [value] : refs(value)
  );
}

describe("docs/api", () => {
  for (const [file, text] of Object.entries(generated)) {
    it(`${file} is what the zod schemas generate now`, () => {
      const committed = existsSync(path.join(projectRoot, file))
        ? readFileSync(path.join(projectRoot, file), "utf8")
        : undefined;
      const current = committed === text;
      expect(current, `${file} is out of date with the schemas: run \`npm run gen:openapi\` and commit the result`)
        .toBe(true);
    });
  }

  it("has an operation for every function folder, at that function's path", () => {
    expect([...new Set(operations.map(({ op }) => op.tags[0]))].sort()).toEqual(functionNames);
    for (const { route, op } of operations) {
      expect(route === `/functions/v1/${op.tags[0]}` || route.startsWith(`/functions/v1/${op.tags[0]}/`), route)
        .toBe(true);
    }
  });

  it("is an OpenAPI 3.1 document: info, paths, unique operation ids, declared parameters and schemes", () => {
    expect(document.openapi).toBe("3.1.0");
    expect(document.info).toEqual(expect.objectContaining({ title: expect.any(String), version: expect.any(String) }));
    expect(document.servers.map((server: { url: string }) => server.url)).toContain("http://127.0.0.1:54321");
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { route, method, op } of operations) {
      const where = `${method.toUpperCase()} ${route}`;
      expect(["get", "post"], where).toContain(method);
      expect(Object.keys(op.responses).some((status) => /^2\d\d$/.test(status)), where).toBe(true);
      expect(Object.keys(op.responses).every((status) => /^[1-5]\d\d$/.test(status)), where).toBe(true);
      for (const [, name] of route.matchAll(/\{([^}]+)\}/g)) {
        expect(op.parameters, where).toContainEqual(expect.objectContaining({ name, in: "path", required: true }));
      }
      for (const requirement of op.security) {
        for (const scheme of Object.keys(requirement)) {
          expect(document.components.securitySchemes, where).toHaveProperty([scheme]);
        }
      }
    }
  });

  it("has every $ref resolve to a part of the document", () => {
    const all = refs(document);
    expect(all).toContain("#/components/schemas/Error");
    expect(all.filter((ref) => resolve(ref) === undefined)).toEqual([]);
  });
});
