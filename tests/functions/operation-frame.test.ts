// The shared frame (functions/_shared/operation.ts) for functions called with GET: query-string
// parameters checked by a zod schema (values arrive as text), the same authentication, error
// contract, CORS and log line as the POST functions, and a streamed Response passed through.
// Served from a throwaway function written for this test only, in a real Deno process.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";
import { freePort } from "../../scripts/local-stack/throwaway.ts";
import { apiUrl, clientWith, userJwt } from "../support/functions.ts";

const shared = (file: string) => pathToFileURL(path.join(projectRoot, "functions/_shared", file)).href;
const source = `
import { z } from "zod";
import { operation } from "${shared("operation.ts")}";
import { queryInteger } from "${shared("schemas/mod.ts")}";

const list = operation({
  name: "list-things",
  method: "GET",
  query: z.strictObject({ chat_id: z.string().min(1), limit: queryInteger(1, 100).default(20) }),
  run: async (query, caller) => ({ status: 200, json: JSON.stringify({ query, role: caller.role }) }),
});

const follow = operation({
  name: "follow",
  method: "GET",
  query: z.strictObject({ after: queryInteger(0, 1_000_000) }),
  run: async ({ after }) => {
    const events = [after + 1, after + 2].map((id) => \`id: \${id}\\ndata: {"seq":\${id}}\\n\\n\`);
    const body = new ReadableStream({
      start(controller) {
        for (const event of events) controller.enqueue(new TextEncoder().encode(event));
        controller.close();
      },
    });
    return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
  },
});

Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.env.get("PORT")), onListen: () => console.log("listening") },
  (request) => new URL(request.url).pathname.endsWith("/follow") ? follow(request) : list(request),
);
`;

let deno: ChildProcess;
let url: string;
let token: string;
const logs: Record<string, unknown>[] = [];
const dir = mkdtempSync(path.join(tmpdir(), "frame-test-"));

beforeAll(async () => {
  writeFileSync(path.join(dir, "index.ts"), source);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  token = await userJwt(crypto.randomUUID());
  deno = spawn(path.join(projectRoot, "node_modules/.bin/deno"), [
    "run",
    "--config=functions/deno.json",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    path.join(dir, "index.ts"),
  ], {
    cwd: projectRoot,
    env: { ...process.env, PORT: String(port), SUPABASE_URL: url },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: deno.stdout! }).on("line", (line) => {
      if (line === "listening") resolve();
      else if (line.startsWith("{")) logs.push(JSON.parse(line));
    });
    deno.once("exit", (code) => reject(new Error(`the test function exited with code ${code}`)));
  });
});
afterAll(() => {
  deno?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

async function get(query: string, init: RequestInit & { token?: string | null } = {}) {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set("Authorization", `Bearer ${init.token ?? token}`);
  const response = await fetch(`${url}/functions/v1/list-things${query}`, { ...init, headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: text ? JSON.parse(text) : undefined };
}

const message = (response: { body?: { error?: { message?: string } } }) => response.body?.error?.message;

it("parses the query string with the schema: numbers coerced from text, defaults applied", async () => {
  expect((await get("?chat_id=c1&limit=5")).body).toEqual({
    query: { chat_id: "c1", limit: 5 },
    role: "authenticated",
  });
  expect((await get("?chat_id=c%241%24_")).body).toEqual({
    query: { chat_id: "c$1$_", limit: 20 },
    role: "authenticated",
  });
});

it("refuses unknown, repeated, missing and malformed parameters with a 400 that names them", async () => {
  const cases: [string, string][] = [
    [
      "?chat_id=c&colour=red",
      'the query string has an unknown parameter "colour": remove it (accepted: chat_id, limit)',
    ],
    ["?chat_id=c&colour=red&size=2", 'the query string has unknown parameters "colour", "size": remove them'],
    ["?chat_id=a&chat_id=b", "give each query parameter once: chat_id"],
    ["", "chat_id is required: send a string"],
    ["?chat_id=c&limit=abc", "limit must be a whole number, such as 20"],
    ["?chat_id=c&limit=1000", "limit must be at most 100"],
    ["?chat_id=c&limit=0", "limit must be at least 1"],
  ];
  for (const [query, says] of cases) {
    const response = await get(query);
    expect(response.status, query).toBe(400);
    expect(response.body.error.code).toBe("invalid_request");
    expect(message(response), query).toContain(says);
  }
});

it("authenticates first, answers other methods with 405 and Allow, and preflights with GET in Allow-Methods", async () => {
  expect(await get("?chat_id=c", { token: null })).toMatchObject({
    status: 401,
    body: { error: { code: "unauthorized" } },
  });
  const post = await get("?chat_id=c", { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
  expect(post).toMatchObject({ status: 405, body: { error: { code: "method_not_allowed", message: "use GET" } } });
  expect(post.headers.get("allow")).toBe("GET, OPTIONS");
  const preflight = await fetch(`${url}/functions/v1/list-things`, {
    method: "OPTIONS",
    headers: { Origin: "http://localhost:3000", "Access-Control-Request-Method": "GET" },
  });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get("access-control-allow-methods")).toBe("GET, OPTIONS");
  // The POST functions keep POST.
  const postPreflight = await fetch(`${apiUrl}/functions/v1/mark-read`, { method: "OPTIONS" });
  expect(postPreflight.headers.get("access-control-allow-methods")).toBe("POST, OPTIONS");
});

it("is callable with supabase-js's functions.invoke({ method: 'GET' })", async () => {
  const client = clientWith(token, url);
  const { data, error } = await client.functions.invoke("list-things?chat_id=c9&limit=3", { method: "GET" });
  expect(error).toBeNull();
  expect(data).toEqual({ query: { chat_id: "c9", limit: 3 }, role: "authenticated" });
});

it("passes a streamed Response through, with CORS headers, a request id and one log line", async () => {
  const response = await fetch(`${url}/functions/v1/follow?after=41`, {
    headers: { Authorization: `Bearer ${token}`, "x-request-id": "follow-1" },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/event-stream");
  expect(response.headers.get("access-control-allow-origin")).toBe("*");
  expect(response.headers.get("x-request-id")).toBe("follow-1");
  expect(await response.text()).toBe('id: 42\ndata: {"seq":42}\n\nid: 43\ndata: {"seq":43}\n\n');
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(logs).toContainEqual({ fn: "follow", status: 200, duration_ms: expect.any(Number), request_id: "follow-1" });
  expect(logs).toContainEqual(expect.objectContaining({ fn: "list-things", status: 400, error: "invalid_request" }));
});
