// The local gateway (scripts/local-stack/functions-gateway.ts): what it answers for the Supabase
// services the local stack does not have, and how long it lets a client hold a connection open.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FunctionsServer, serveFunctions } from "../../scripts/local-stack/functions-server.ts";
import { freePort } from "../../scripts/local-stack/throwaway.ts";
import { apiUrl, newUser, userJwt } from "../support/functions.ts";
import { head, rawSocket } from "../support/raw-http.ts";

const functionNames = /\/functions\/v1\/<name>.*append-message.*create-chat.*log-workflow-step.*mark-read/;

describe("paths the local stack does not serve", () => {
  it("supabase-js table and RPC calls get an error that says the stack serves /functions/v1/<name> only", async () => {
    const { client } = await newUser();
    const table = await client.from("chats").select();
    expect(table.status).toBe(501);
    expect(table.error).toMatchObject({ code: "not_served_locally", message: expect.stringMatching(/PostgREST/) });
    expect(table.error!.message).toMatch(functionNames);
    const rpc = await client.rpc("mark_read", { chat_id: "c" });
    expect(rpc.status).toBe(501);
    expect(rpc.error!.message).toMatch(functionNames);
    const auth = await client.auth.signInWithPassword({ email: "a@example.com", password: "password" });
    expect(auth.error!.message).toMatch(/Auth is not part of the local stack/);
    expect(auth.error!.message).toMatch(functionNames);
  });

  it("answers PostgREST's error shape: 501 for Supabase services, 404 for anything else", async () => {
    const cases: [string, string, number, RegExp][] = [
      ["GET", "/rest/v1/chats?select=*", 501, /PostgREST/],
      ["POST", "/rest/v1/rpc/append_message", 501, /PostgREST/],
      ["GET", "/realtime/v1/websocket?vsn=1.0.0", 501, /Realtime/],
      ["POST", "/auth/v1/token?grant_type=password", 404, /Auth/],
      ["GET", "/storage/v1/object/list/bucket", 501, /Storage/],
      ["GET", "/", 404, /nothing is served at \//],
      ["GET", "/graphql/v1", 404, /nothing is served at \/graphql\/v1/],
    ];
    for (const [method, path, status, says] of cases) {
      const response = await fetch(`${apiUrl}${path}`, { method });
      expect(response.status, path).toBe(status);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const body = await response.json();
      expect(Object.keys(body).sort()).toEqual(["code", "details", "hint", "message"]);
      expect(body.message, path).toMatch(says);
      expect(body.message, path).toMatch(functionNames);
      expect(body.details).toBe(`${method} ${path.split("?")[0]}`);
    }
  });

  it("an unknown function gets the functions' own error shape, naming the functions there are", async () => {
    const response = await fetch(`${apiUrl}/functions/v1/no-such-function`, { method: "POST" });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { code: "not_found", message: expect.stringMatching(/no function named no-such-function.*mark-read/) },
    });
  });
});

describe("connection limits", () => {
  const limits = { header: 600, idle: 1000, body: 600 };
  let gateway: FunctionsServer;
  let url: string;
  const logs: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // No database: everything here is decided before a function would call it.
    gateway = await serveFunctions({
      PORT: String(port),
      SUPABASE_URL: url,
      SUPABASE_DB_URL: `postgresql://postgres:postgres@127.0.0.1:${await freePort()}/postgres`,
      GATEWAY_HEADER_TIMEOUT_MS: String(limits.header),
      GATEWAY_IDLE_TIMEOUT_MS: String(limits.idle),
      REQUEST_BODY_TIMEOUT_MS: String(limits.body),
    }, (line) => logs.push(line));
  });
  afterAll(() => gateway?.stop());

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  // Closed at the limit: not long before it (the client's clock starts a little after the gateway's,
  // more so on a busy machine), and not much after it (the gateway checks every tenth of the limit).
  const expectClosedNear = (ms: number, limit: number) => {
    expect(ms).toBeGreaterThanOrEqual(limit / 2);
    expect(ms).toBeLessThan(limit + 1500);
  };

  it("closes sockets that send nothing, or trickle their headers, at the header limit (50 at once)", async () => {
    const silent = await Promise.all(Array.from({ length: 25 }, () => rawSocket(url)));
    const trickling = await Promise.all(Array.from({ length: 25 }, () => rawSocket(url)));
    const drip = setInterval(() => {
      for (const { socket } of trickling) if (!socket.destroyed) socket.write("x");
    }, 100);
    for (const { socket } of trickling) {
      socket.write("POST /functions/v1/mark-read HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
    }
    try {
      for (const { closed } of silent) expectClosedNear(await closed, limits.header);
      for (const { closed, received } of trickling) {
        expectClosedNear(await closed, limits.header);
        expect(received()).toMatch(/^HTTP\/1\.1 408 /);
      }
    } finally {
      clearInterval(drip);
    }
  });

  it("answers a body that trickles in with 408 at the body limit, logs it, and closes the socket", async () => {
    const token = await userJwt(crypto.randomUUID());
    const requestId = `slow-body-${crypto.randomUUID()}`;
    const client = await rawSocket(url);
    client.socket.write(
      head("POST", "/functions/v1/mark-read", {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        "Content-Length": 100,
        "x-request-id": requestId,
      }) + '{"chat_id":"',
    );
    const drip = setInterval(() => !client.socket.destroyed && client.socket.write("x"), 100);
    try {
      expectClosedNear(await client.closed, limits.body);
    } finally {
      clearInterval(drip);
    }
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(client.received()).toContain('"code":"request_timeout"');
    await sleep(100);
    expect(logs.map((line) => line.startsWith("{") ? JSON.parse(line) : {})).toContainEqual(
      expect.objectContaining({ fn: "mark-read", status: 408, error: "request_timeout", request_id: requestId }),
    );
  });

  it("closes a kept-alive connection after the idle limit without a request", async () => {
    const client = await rawSocket(url);
    client.socket.write(head("OPTIONS", "/functions/v1/mark-read"));
    while (!client.received().includes("\r\n\r\n")) await sleep(5);
    const answered = performance.now();
    const closedAt = await client.closed.then(() => performance.now());
    expect(client.received()).toMatch(/^HTTP\/1\.1 204 /);
    expectClosedNear(closedAt - answered, limits.idle);
  });

  it("leaves steady keep-alive traffic alone: one connection, requests spread over several limits", async () => {
    const client = await rawSocket(url);
    let open = true;
    client.closed.then(() => (open = false));
    const requests = 5;
    for (let i = 0; i < requests; i++) {
      // Each request arrives in two pieces, 200 ms apart: slow, but within the header limit.
      client.socket.write("OPTIONS /functions/v1/mark-read HTTP/1.1\r\n");
      await sleep(200);
      client.socket.write("Host: localhost\r\n\r\n");
      await sleep(300);
    }
    expect(client.received().match(/HTTP\/1\.1 204 /g)?.length).toBe(requests);
    expect(open).toBe(true);
    client.socket.destroy();
  });
});
