// Token attacks against every operation: each is refused with 401 and writes nothing.
import { exportSPKI, importJWK, SignJWT } from "jose";
import { beforeAll, expect, inject, it } from "vitest";
import { anonKey, post, signJwt, uid, useFunctionsDatabase, userJwt, userWithChat } from "../support/functions.ts";

const sql = useFunctionsDatabase();
let owner: Awaited<ReturnType<typeof userWithChat>>;
beforeAll(async () => {
  owner = await userWithChat();
});

const otherSecret = "another-secret-that-is-long-enough-to-be-accepted";
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

async function attacks(): Promise<[string, string | undefined][]> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: owner.accountId, role: "authenticated", aud: "authenticated" };
  const valid = await userJwt(owner.accountId);
  const [head, payload, signature] = valid.split(".");
  const jwk = JSON.parse(inject("asymmetricSigningKey"));
  const { d: _d, ...publicJwk } = jwk;
  const publicPem = await exportSPKI(await importJWK(publicJwk, "ES256") as CryptoKey);
  return [
    ["no token", undefined],
    ["alg none", `${b64({ alg: "none", typ: "JWT" })}.${payload}.`],
    ["alg none with the original signature", `${b64({ alg: "none", typ: "JWT" })}.${payload}.${signature}`],
    ["HS256 with the wrong secret", await signJwt({ ...claims, exp: now + 600 }, otherSecret)],
    [
      "the public key (PEM) as HMAC secret",
      await new SignJWT({ ...claims }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m")
        .sign(new TextEncoder().encode(publicPem)),
    ],
    ["expired", await signJwt({ ...claims, exp: now - 1 })],
    ["not yet valid", await signJwt({ ...claims, nbf: now + 600, exp: now + 1200 })],
    [
      "role tampered to service_role",
      `${head}.${b64({ ...JSON.parse(atob(payload)), role: "service_role" })}.${signature}`,
    ],
    ["service_role signed with the wrong secret", await signJwt({ role: "service_role", exp: now + 600 }, otherSecret)],
    ["missing sub", await signJwt({ role: "authenticated", exp: now + 600 })],
    ["sub not a uuid", await signJwt({ ...claims, sub: "admin", exp: now + 600 })],
    ["garbage after the signature", `${valid}garbage`],
    ["a fourth segment", `${valid}.x`],
    ["the anon key", anonKey],
    ["Basic auth", "dXNlcjpwYXNz"],
  ];
}

const bodies = () => ({
  "create-chat": { session: { id: uid("s"), title: "x" }, chat: { id: uid("c") } },
  "append-message": { chat_id: owner.chatId, message: { id: uid("m"), role: "user", parts: [] } },
  "mark-read": { chat_id: owner.chatId },
  "log-workflow-step": { run: { id: uid("run"), chat_id: owner.chatId, started_at: "2026-01-01T00:00:00Z" } },
});

it("every token attack on every operation gets 401 and writes nothing", async () => {
  const count = async () =>
    (await sql`
      select (select count(*) from sessions where account_id = ${owner.accountId})::int
           + (select count(*) from chat_messages where chat_id = ${owner.chatId})::int
           + (select count(*) from chat_reads where chat_id = ${owner.chatId})::int
           + (select count(*) from workflow_runs where chat_id = ${owner.chatId})::int as n`)[0].n;
  const before = await count();
  for (const [attack, token] of await attacks()) {
    for (const [fn, body] of Object.entries(bodies())) {
      const headers = attack === "Basic auth" ? { Authorization: `Basic ${token}` } : undefined;
      const response = await post(fn, { token: headers ? undefined : token, headers, body: JSON.stringify(body) });
      expect(response.status, `${attack} on ${fn}`).toBe(401);
      expect(response.body).toMatchObject({ error: { code: "unauthorized" } });
    }
  }
  expect(await count()).toBe(before);
});
