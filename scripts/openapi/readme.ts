// docs/api/README.md: the OpenAPI document as a page a person reads, one section per function. Everything here comes
// from the document, so the two cannot disagree.
type Schema = {
  $ref?: string;
  type?: string | string[];
  format?: string;
  pattern?: string;
  const?: unknown;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  title?: string;
  description?: string;
  default?: unknown;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
};

interface Operation {
  tags: string[];
  summary: string;
  description?: string;
  security: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  parameters?: { name: string; in: string; required: boolean; description?: string; schema: Schema }[];
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
}

interface Document {
  info: { title: string; description: string };
  servers: { url: string; description: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

export function renderReadme(document: unknown): string {
  const { info, servers, paths, components } = document as Document;
  const resolve = (schema: Schema): Schema =>
    schema.$ref ? resolve(components.schemas[schema.$ref.split("/").at(-1)!]) : schema;

  const operations = Object.entries(paths)
    .flatMap(([route, methods]) => Object.entries(methods).map(([method, op]) => ({ route, method, op })))
    .sort((a, b) => compare(a.op.tags[0], b.op.tags[0]) || compare(b.method, a.method));
  const byFunction = new Map<string, typeof operations>();
  for (const entry of operations) byFunction.set(entry.op.tags[0], [...byFunction.get(entry.op.tags[0]) ?? [], entry]);

  const out = [
    `# ${info.title}`,
    "Every edge function, rendered from [openapi.json](openapi.json). Both files are generated from the functions' " +
    "zod schemas by `npm run gen:openapi`: do not edit them by hand. The guide, with examples that run, is " +
    "[docs/api.md](../api.md).",
    info.description,
    "Servers:\n\n" + servers.map(({ url, description }) => `- \`${url}\`: ${description}`).join("\n"),
    table(
      ["function", "operation", "caller", "summary"],
      operations.map(({ route, method, op }) => [
        `[${op.tags[0]}](#${op.tags[0]})`,
        `\`${method.toUpperCase()} ${route}\``,
        caller(op),
        op.summary,
      ]),
    ),
  ];
  for (const [name, ops] of byFunction) {
    out.push(`## ${name}`);
    for (const { route, method, op } of ops) {
      out.push(`\`${method.toUpperCase()} ${route}\`: ${caller(op)}.`, op.summary);
      if (op.description) out.push(op.description);
      if (op.requestBody) {
        out.push("Request body (JSON):", ...shapes(resolve(op.requestBody.content["application/json"].schema)));
      }
      if (op.parameters?.length) {
        out.push(
          "Parameters:",
          table(
            ["name", "type", "required", "description"],
            op.parameters.map((
              p,
            ) => [p.name + (p.in === "path" ? " (path)" : ""), typeOf(p.schema), yes(p.required), p.description]),
          ),
        );
      }
      const answers = Object.entries(op.responses).filter(([status]) => status.startsWith("2"));
      out.push(
        "Answers: " + answers.map(([status, { description }]) => `\`${status}\` ${description}`).join("; ") + ".",
      );
      const body = answers.map(([, { content }]) => content?.["application/json"]?.schema).find(Boolean);
      if (body) out.push(...shapes(resolve(body)));
      const errors = Object.entries(op.responses).filter(([status]) => !status.startsWith("2"));
      out.push("Errors:", table(["status", "codes"], errors.map(([status, { description }]) => [status, description])));
    }
  }
  return out.join("\n\n") + "\n";

  /** A body's fields as a table; a body of several shapes as one table each. */
  function shapes(schema: Schema): string[] {
    const alternatives = schema.anyOf ?? schema.oneOf;
    if (!alternatives) return [table(["field", "type", "required", "description"], fields(schema))];
    return alternatives.map(resolve).flatMap((alternative, i) => [
      (i === 0 ? "One of these shapes" : "Or") + (alternative.title ? `, ${alternative.title}:` : ":"),
      table(["field", "type", "required", "description"], fields(alternative)),
    ]);
  }

  /** Every field, nested ones by their path (`chat.usage.steps`, `messages[].role`); a union is not opened. */
  function fields(schema: Schema, prefix = ""): (string | undefined)[][] {
    const required = new Set(schema.required);
    return Object.entries(schema.properties ?? {}).flatMap(([key, property]) => {
      const name = prefix + key;
      const inner = objectIn(resolve(property));
      return [
        [name, typeOf(property), yes(required.has(key)), property.description],
        ...(inner ? fields(inner.schema, `${name}${inner.suffix}.`) : []),
      ];
    });
  }

  /** The object a field holds, an array of, or may hold (an object or null). */
  function objectIn(schema: Schema): { schema: Schema; suffix: string } | undefined {
    if (schema.properties) return { schema, suffix: "" };
    if (schema.type === "array" && schema.items) {
      const items = objectIn(resolve(schema.items));
      return items && { schema: items.schema, suffix: "[]" + items.suffix };
    }
    const members = (schema.anyOf ?? []).filter((member) => member.type !== "null");
    return members.length === 1 ? objectIn(resolve(members[0])) : undefined;
  }
}

/** A schema's type in TypeScript-like words, with its bounds. */
function typeOf(schema: Schema): string {
  const fallback = "default" in schema ? `, default ${JSON.stringify(schema.default)}` : "";
  return `\`${typeText(schema)}${fallback}\``;
}

function typeText(schema: Schema): string {
  if (schema.$ref) return "JSON"; // the only schemas moved to components are recursive JSON values
  if ("const" in schema) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(" | ");
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return [...new Set(union.map(typeText))].join(" | ");
  if (Array.isArray(schema.type)) return schema.type.map((type) => typeText({ ...schema, type })).join(" | ");
  if (schema.type === "array") {
    const items = typeText(schema.items ?? {});
    return `${items.includes(" ") ? `(${items})` : items}[]${bounds(schema.minItems, schema.maxItems, " items")}`;
  }
  if (schema.type === "string") {
    const shape = schema.format ? ` (${schema.format})` : schema.pattern ? ` matching ${schema.pattern}` : "";
    return `string${shape}${bounds(schema.minLength, schema.maxLength, " chars")}`;
  }
  if (schema.type === "integer" || schema.type === "number") {
    const safe = (n?: number) => n === undefined || Math.abs(n) >= Number.MAX_SAFE_INTEGER ? undefined : n;
    return schema.type + bounds(safe(schema.minimum), safe(schema.maximum), "");
  }
  return schema.type ?? "JSON";
}

function bounds(min: number | undefined, max: number | undefined, unit: string): string {
  if (min === undefined && max === undefined) return "";
  if (max === undefined) return `, at least ${min}${unit}`;
  if (min === undefined) return `, at most ${max}${unit}`;
  return `, ${min}..${max}${unit}`;
}

const caller = (op: Operation) =>
  op.security.some((requirement) => "user" in requirement)
    ? "a user's token or the service role key"
    : "service role only";

const yes = (value: boolean) => value ? "yes" : "";

const compare = (a: string, b: string) => a < b ? -1 : a > b ? 1 : 0;

function table(header: string[], rows: (string | undefined)[][]): string {
  const cell = (text = "") => text.replaceAll("|", "\\|").replace(/\s+/g, " ");
  return [header, header.map(() => "---"), ...rows].map((row) => `| ${row.map(cell).join(" | ")} |`).join("\n");
}
