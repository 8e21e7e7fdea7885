// Every way of presenting a token the functions must refuse with 401: one list for the token suite
// (tests/security/tokens.test.ts, every attack on every operation) and the error suite
// (tests/functions/errors.test.ts, the 401 shape).
import { exportSPKI, importJWK, SignJWT } from "jose";
import { inject } from "vitest";
import { anonKey, signJwt, userJwt } from "./functions.ts";

export interface TokenAttack {
  name: string;
  /** The Authorization header sent, or undefined for none. */
  authorization: string | undefined;
}

const otherSecret = "another-secret-that-is-long-enough-to-be-accepted";
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Attacks by someone who knows `accountId` (and has seen one of its valid tokens). */
export async function tokenAttacks(accountId: string): Promise<TokenAttack[]> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: accountId, role: "authenticated", aud: "authenticated" };
  const valid = await userJwt(accountId);
  const [head, payload, signature] = valid.split(".");
  const jwk = JSON.parse(inject("asymmetricSigningKey"));
  const { d: _private, ...publicJwk } = jwk;
  const publicPem = await exportSPKI(await importJWK(publicJwk, "ES256") as CryptoKey);
  const hmacWith = (secret: string, kid?: string) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256", ...(kid ? { kid } : {}) }).setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));

  const bearer: [string, string][] = [
    ["not a JWT", "not-a-jwt"],
    ["alg none", `${b64({ alg: "none", typ: "JWT" })}.${payload}.`],
    ["alg none with the original signature", `${b64({ alg: "none", typ: "JWT" })}.${payload}.${signature}`],
    ["signature stripped", `${head}.${payload}.`],
    ["HS256 with the wrong secret", await signJwt({ ...claims, exp: now + 600 }, otherSecret)],
    ["the public key (PEM) as HMAC secret", await hmacWith(publicPem)],
    ["the public key (JWK) as HMAC secret", await hmacWith(JSON.stringify(publicJwk), jwk.kid)],
    [
      "ES256 with a key the JWKS does not have",
      await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "someone-else" }).setExpirationTime("5m")
        .sign(await importJWK(jwk, "ES256")),
    ],
    ["expired", await signJwt({ ...claims, exp: now - 10 })],
    ["not yet valid", await signJwt({ ...claims, nbf: now + 600, exp: now + 1200 })],
    ["no expiry", await signJwt({ ...claims, iat: now })],
    [
      "role tampered to service_role",
      `${head}.${b64({ ...JSON.parse(atob(payload)), role: "service_role" })}.${signature}`,
    ],
    ["service_role signed with the wrong secret", await signJwt({ role: "service_role", exp: now + 600 }, otherSecret)],
    ["missing sub", await signJwt({ role: "authenticated", exp: now + 600 })],
    ["sub not a uuid", await signJwt({ ...claims, sub: "admin", exp: now + 600 })],
    ["a role the API does not know", await signJwt({ ...claims, role: "supabase_admin", exp: now + 600 })],
    ["garbage after the signature", `${valid}garbage`],
    ["a fourth segment", `${valid}.x`],
    ["the anon key", anonKey],
  ];
  return [
    { name: "no token", authorization: undefined },
    ...bearer.map(([name, token]) => ({ name, authorization: `Bearer ${token}` })),
    { name: "Basic auth", authorization: "Basic dXNlcjpwYXNz" },
  ];
}
