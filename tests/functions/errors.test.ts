// Every error class of the API, through the real Deno server: the JSON shape, the status, and that
// a refused request writes nothing.
import { importJWK, SignJWT } from "jose";
import { readFileSync } from "node:fs";
import { describe, expect, inject, it } from "vitest";
import { serveFunctions } from "../../scripts/local-stack/functions-server.ts";
import { freePort } from "../../scripts/local-stack/throwaway.ts";
import {
  apiUrl,
  newUser,
  post,
  serviceRoleKey,
  signJwt,
  uid,
  useFunctionsDatabase,
  userWithChat,
} from "../support/functions.ts";
import { head, rawSocket } from "../support/raw-http.ts";
import { tokenAttacks } from "../support/tokens.ts";
import { uiMessage } from "../support/factories.ts";

const sql = useFunctionsDatabase();
const appendBody = (chatId: string, text = "hi") =>
  JSON.stringify({ chat_id: chatId, message: uiMessage(uid("m"), "user", text) });

function expectError(response: { status: number; headers: Headers; body?: Record<string, unknown> }, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/json");
  expect(response.body).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
  expect(Object.keys(response.body!)).toEqual(["error"]);
}

const messagesIn = async (chatId: string) =>
  (await sql`select count(*)::int as n from chat_messages where chat_id = ${chatId}`)[0].n;

describe("400: bad bodies", () => {
  it("invalid JSON, a wrong shape, unknown fields, and values jsonb cannot store", async () => {
    const { token, chatId } = await userWithChat();
    const cases = [
      '{"chat_id":',
      "[]",
      "null",
      JSON.stringify({ chat_id: chatId }),
      JSON.stringify({ chat_id: 42, message: uiMessage("m", "user", "x") }),
      JSON.stringify({ chat_id: chatId, message: { ...uiMessage("m", "user", "x"), role: "system" } }),
      JSON.stringify({ chat_id: chatId, message: uiMessage("m", "user", "x"), extra: true }),
      JSON.stringify({ chat_id: chatId, message: uiMessage("m", "user", "nul \u0000 inside") }),
      JSON.stringify({ chat_id: chatId, message: uiMessage("m\u0000", "user", "x") }),
      `{"chat_id":"${chatId}","message":{"id":"m","role":"user","parts":[{"type":"text","text":"\\ud800 lone"}]}}`,
      `{"chat_id":"${chatId}","message":{"id":"m","role":"user","parts":[{"type":"text","n":1e400}]}}`,
      JSON.stringify({ chat_id: "", message: uiMessage("m", "user", "x") }),
      JSON.stringify({ chat_id: "x".repeat(300), message: uiMessage("m", "user", "x") }),
    ];
    for (const body of cases) {
      const response = await post("append-message", { token, body });
      expectError(response, 400);
    }
    expect(await messagesIn(chatId)).toBe(0);
  });

  it("validation errors say where", async () => {
    const { token } = await userWithChat();
    const response = await post("mark-read", { token, body: JSON.stringify({ chat_id: "c", read_at: "yesterday" }) });
    expectError(response, 400);
    expect(response.body).toMatchObject({
      error: { code: "invalid_request", details: [{ path: "read_at", message: expect.any(String) }] },
    });
  });
});

describe("400 messages name the field and what to send", () => {
  const at = "2026-01-01T00:00:00Z";
  const run = { id: "r", chat_id: "c", started_at: "2026-01-02T00:00:00Z" };
  const message = uiMessage("m", "user", "x");
  // [function, body, the error's message]
  const cases: [string, unknown, string | RegExp][] = [
    [
      "create-chat",
      {},
      /^the body needs session_id \(a chat in an existing session you own\) or session \(a new session/,
    ],
    [
      "create-chat",
      { session_id: "s", session: { title: "t" } },
      /^the body has both session_id and session: send session_id .*, not both$/,
    ],
    ["create-chat", [], /^the body needs session_id/],
    ["create-chat", { session: {} }, "session.title is required: send a string"],
    ["create-chat", { session_id: 7 }, "session_id must be a string, not 7"],
    [
      "create-chat",
      { session_id: "s", colour: "red" },
      /^the body has an unknown field "colour": remove it \(accepted: .*session_id/,
    ],
    [
      "create-chat",
      { session: { title: "t", account_id: crypto.randomUUID() } },
      /^session has an unknown field "account_id"/,
    ],
    ["create-chat", { session: { title: "" } }, "session.title must not be empty"],
    [
      "create-chat",
      { session: { title: "t", is_new_branch: "yes" } },
      "session.is_new_branch must be true or false, not a string",
    ],
    ["create-chat", { session: { title: "t" }, account_id: "me" }, /^account_id must be a UUID/],
    ["append-message", { chat_id: "c" }, "message is required: send an object"],
    ["append-message", { chat_id: 42, message }, "chat_id must be a string, not 42"],
    ["append-message", { chat_id: "", message }, "chat_id must not be empty"],
    ["append-message", { chat_id: "x".repeat(300), message }, "chat_id must be at most 255 characters"],
    [
      "append-message",
      { chat_id: "c", message: { ...message, role: "system" } },
      'message.role must be one of "user", "assistant"',
    ],
    [
      "append-message",
      { chat_id: "c", message: uiMessage("m", "user", "a\u0000b") },
      "message.parts.0.text must not contain NUL characters or lone surrogates",
    ],
    [
      "append-message",
      { chat_id: "c", message: { ...message, parts: "hello" } },
      "message.parts must be an array, not a string",
    ],
    ["append-message", null, "the body must be an object, not null"],
    ["append-message", '{"chat_id":', "the body is not valid UTF-8 JSON: send a JSON object"],
    [
      "mark-read",
      { chat_id: "c", read_at: "yesterday" },
      "read_at must be an ISO 8601 time with an offset, such as 2026-01-01T00:00:00Z",
    ],
    ["mark-read", { chat_id: "c", read_at: "0000-01-01T00:00:00Z" }, "read_at must be a time in year 1 or later"],
    ["mark-read", { chat_id: "c", account_id: "me" }, /^account_id must be a UUID/],
    ["log-workflow-step", { run: { ...run, id: undefined } }, "run.id is required: send a string"],
    [
      "log-workflow-step",
      { run, steps: [{ step_number: 1.5, started_at: at, finished_at: at }] },
      "steps.0.step_number must be a whole number, not 1.5",
    ],
    [
      "log-workflow-step",
      { run, steps: [{ step_number: 0, started_at: at, finished_at: at }] },
      "steps.0.step_number must be at least 1",
    ],
    [
      "log-workflow-step",
      { run, steps: [{ step_number: 1, started_at: "2026-01-03T00:00:00Z", finished_at: at }] },
      "steps.0.finished_at must not be before the step's started_at",
    ],
    [
      "log-workflow-step",
      { run, finish: { status: "done", finished_at: at } },
      'finish.status must be one of "completed", "aborted", "failed"',
    ],
    [
      "log-workflow-step",
      { run, finish: { status: "completed", finished_at: at } },
      "finish.finished_at must not be before run.started_at",
    ],
    ["log-workflow-step", { run, steps: Array(1001).fill({}) }, "steps must be at most 1000 items"],
  ];

  it.each(cases)("%s %j", async (fn, body, says) => {
    const { token } = await newUser();
    const response = await post(fn, {
      token: fn === "log-workflow-step" ? serviceRoleKey : token,
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    expectError(response, 400);
    const { message } = (response.body as { error: { message: string } }).error;
    if (typeof says === "string") expect(message.replace(/ \(and \d+ more, listed in details\)$/, "")).toBe(says);
    else expect(message).toMatch(says);
  });

  it("several problems: the first is the message, all are in details with their paths", async () => {
    const { token } = await newUser();
    const response = await post("append-message", { token, body: JSON.stringify({ chat_id: 1, message: {}, x: 2 }) });
    expectError(response, 400);
    expect(response.body).toMatchObject({
      error: {
        message: "chat_id must be a string, not 1 (and 4 more, listed in details)",
        details: [
          { path: "chat_id", message: "must be a string, not 1" },
          { path: "message.id", message: "is required: send a string" },
          // Missing, so said to be required (with what to send), not to be "one of".
          { path: "message.role", message: 'is required: send one of "user", "assistant"' },
          { path: "message.parts", message: "is required: send an array" },
          { path: "", message: expect.stringMatching(/^has an unknown field "x"/) },
        ],
      },
    });
  });
});

describe("401: who is calling", () => {
  it("refuses missing, malformed, expired, forged and anonymous tokens, writing nothing", async () => {
    const { accountId, chatId } = await userWithChat();
    for (const { name, authorization } of await tokenAttacks(accountId)) {
      const headers = authorization ? { Authorization: authorization } : undefined;
      const response = await post("append-message", { headers, body: appendBody(chatId) });
      expect(response.status, name).toBe(401);
      expectError(response, 401);
    }
    expect(await messagesIn(chatId)).toBe(0);
  });

  it("says what is wrong with a token: no header, no Bearer, not a JWT, no expiry", async () => {
    const { accountId, chatId } = await userWithChat();
    const noExpiry = await signJwt({ sub: accountId, role: "authenticated", aud: "authenticated" });
    const cases: [Record<string, string> | undefined, string][] = [
      [undefined, "send Authorization: Bearer <JWT>"],
      [{ Authorization: `Token ${noExpiry}` }, "the Authorization header must be Bearer <JWT>, with one space between"],
      [{ Authorization: "Bearer not-a-jwt" }, "the token is not a JWT: three base64url parts separated by dots"],
      [{ Authorization: `Bearer ${noExpiry}` }, "the token has no expiry (exp): tokens must expire"],
    ];
    for (const [headers, message] of cases) {
      const response = await post("append-message", { headers, body: appendBody(chatId) });
      expect(response.body, message).toMatchObject({ error: { code: "unauthorized", message } });
    }
  });

  it("accepts asymmetric (ES256) user tokens from the project's JWKS, and refuses the public key used as an HMAC secret", async () => {
    const { accountId, chatId } = await userWithChat();
    const jwk = JSON.parse(inject("asymmetricSigningKey"));
    const claims = { sub: accountId, role: "authenticated", aud: "authenticated" };
    const es256 = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: jwk.kid, typ: "JWT" })
      .setExpirationTime("5m").sign(await importJWK(jwk, "ES256"));
    expect((await post("append-message", { token: es256, body: appendBody(chatId) })).status).toBe(201);

    const attacks = await tokenAttacks(accountId);
    for (const name of ["the public key (JWK) as HMAC secret", "ES256 with a key the JWKS does not have"]) {
      const { authorization } = attacks.find((attack) => attack.name === name)!;
      expectError(
        await post("append-message", { headers: { Authorization: authorization! }, body: appendBody(chatId) }),
        401,
      );
    }
    expect(await messagesIn(chatId)).toBe(1);
  });
});

describe("403, 405, 413, 415", () => {
  it("a user calling a service-only operation gets 403", async () => {
    const { token, chatId } = await userWithChat();
    const body = JSON.stringify({ run: { id: uid("run"), chat_id: chatId, started_at: new Date().toISOString() } });
    expectError(await post("log-workflow-step", { token, body }), 403);
  });

  it("anything but POST gets 405 with Allow", async () => {
    const { token } = await newUser();
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      const response = await post("mark-read", { token, method });
      expectError(response, 405);
      expect(response.headers.get("allow")).toContain("POST");
    }
  });

  it("a body over 1 MiB gets 413, whether or not it declares its length", async () => {
    const { token, chatId } = await userWithChat();
    const big = appendBody(chatId, "x".repeat(1024 * 1024 + 10));
    expectError(await post("append-message", { token, body: big }), 413);
    const stream = new Blob([big]).stream();
    const chunked = await post("append-message", { token, body: stream, duplex: "half" } as RequestInit);
    expectError(chunked, 413);
    expect(await messagesIn(chatId)).toBe(0);
  });

  it("a body that is not application/json gets 415", async () => {
    const { token, chatId } = await userWithChat();
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      expectError(
        await post("append-message", { token, body: appendBody(chatId), headers: { "Content-Type": type } }),
        415,
      );
    }
    const charset = await post("append-message", {
      token,
      body: appendBody(chatId),
      headers: { "Content-Type": "application/json; charset=utf-8" },
    });
    expect(charset.status).toBe(201);
  });
});

describe("503: the database is unreachable", () => {
  it("answers 503 with Retry-After, promptly, instead of hanging or 500", async () => {
    const port = await freePort(), deadDb = await freePort();
    const lines: string[] = [];
    const server = await serveFunctions({
      PORT: String(port),
      SUPABASE_URL: `http://127.0.0.1:${port}`,
      SUPABASE_DB_URL: `postgresql://postgres:postgres@127.0.0.1:${deadDb}/postgres`,
      DB_CONNECT_TIMEOUT_S: "2",
    }, (line) => lines.push(line));
    try {
      const { token } = await newUser();
      const started = Date.now();
      const response = await fetch(`http://127.0.0.1:${port}/functions/v1/mark-read`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ chat_id: "c" }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("1");
      expect(await response.json()).toMatchObject({ error: { code: "database_unavailable" } });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await server.stop();
    }
  });
});

describe("CORS", () => {
  it("answers preflights and puts the CORS headers on every response, errors included", async () => {
    const preflight = await fetch(`${apiUrl}/functions/v1/append-message`, {
      method: "OPTIONS",
      headers: { Origin: "http://localhost:3000", "Access-Control-Request-Method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("apikey");
    const refused = await post("append-message", { body: "{}" });
    expect(refused.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("logs", () => {
  it("one JSON line per request with function, status, duration and request id; never tokens or contents", async () => {
    const { token, chatId } = await userWithChat();
    const secret = `secret-content-${uid("s")}`;
    const requestId = uid("req");
    await post("append-message", { token, body: appendBody(chatId, secret), headers: { "x-request-id": requestId } });
    await post("log-workflow-step", { token: serviceRoleKey, body: "{" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const log = readFileSync(inject("functionsLogFile"), "utf8");
    const lines = log.split("\n").filter((line) => line && !line.startsWith("functions listening"))
      .map((line) => JSON.parse(line));
    expect(lines.find((l) => l.request_id === requestId)).toMatchObject({
      fn: "append-message",
      status: 201,
      duration_ms: expect.any(Number),
    });
    expect(log).not.toContain(secret);
    expect(log).not.toContain(token);
    expect(log).not.toContain(serviceRoleKey);
    expect(log).not.toContain(token.split(".")[2]);
  });

  it("a client that disconnects mid-body is logged as a client disconnect (499), not as a 500", async () => {
    const { token, chatId } = await userWithChat();
    const requestId = uid("half-body");
    const body = appendBody(chatId);
    const client = await rawSocket(apiUrl);
    client.socket.write(
      head("POST", "/functions/v1/append-message", {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        "Content-Length": body.length,
        "x-request-id": requestId,
      }) + body.slice(0, body.length / 2),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    client.socket.destroy();
    let line: Record<string, unknown> | undefined;
    for (let tries = 0; !line && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      line = readFileSync(inject("functionsLogFile"), "utf8").split("\n").filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l)).find((l) => l.request_id === requestId);
    }
    expect(line).toMatchObject({ fn: "append-message", status: 499, error: "client_disconnected" });
    expect(await messagesIn(chatId)).toBe(0);
  });
});
