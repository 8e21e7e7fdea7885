// Who is calling: the Bearer JWT, verified here (signature, expiry, role) with jose. HS256 tokens are
// checked with the project's JWT secret; asymmetric tokens (ES256, RS256, EdDSA) with the project's
// JWKS when one is configured. The verified claims are what the database sees as the request's
// identity, so row level security, not this file, decides what the caller may touch.
import { createLocalJWKSet, createRemoteJWKSet, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from "jose";
import { config } from "./config.ts";
import { HttpError } from "./http.ts";

export type Caller =
  | { role: "authenticated"; accountId: string; claims: JWTPayload }
  | { role: "service_role"; accountId: null; claims: JWTPayload };

// Imported once: jose would otherwise import the raw secret on every verification.
const secret = config.jwtSecret
  ? await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(config.jwtSecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  )
  : undefined;

const jwks = config.jwks
  ? createLocalJWKSet(config.jwks as JSONWebKeySet)
  : config.jwksUrl
  ? createRemoteJWKSet(new URL(config.jwksUrl))
  : undefined;

const asymmetric = ["ES256", "RS256", "EdDSA"];
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const unauthorized = (message: string) =>
  new HttpError(401, "unauthorized", message, undefined, { "WWW-Authenticate": 'Bearer error="invalid_token"' });

// Verifying a signature costs more than everything else a request does in this process, and a
// client sends the same token with every request until it expires. So a verified token is
// remembered for at most a minute (and never past its expiry): a key rotation or a revoked signing
// key takes effect within that minute.
const verified = new Map<string, { caller: Caller; until: number }>();
const rememberMs = 60_000;
const rememberAtMost = 10_000;

const jwtShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The caller of `request`. `queryToken` is the `access_token` query parameter of a function that
 * accepts one (a browser's EventSource cannot send headers); the Authorization header wins.
 */
export async function authenticate(request: Request, queryToken?: string | null): Promise<Caller> {
  const header = request.headers.get("authorization");
  const token = header !== null ? /^Bearer (\S+)$/.exec(header)?.[1] : queryToken ?? undefined;
  if (header === null && !queryToken) throw unauthorized("send Authorization: Bearer <JWT>");
  if (!token) throw unauthorized("the Authorization header must be Bearer <JWT>, with one space between");
  if (!jwtShape.test(token)) throw unauthorized("the token is not a JWT: three base64url parts separated by dots");

  const known = verified.get(token);
  if (known && known.until > Date.now()) return known.caller;
  if (known) verified.delete(token);
  const caller = await verify(token);
  if (verified.size >= rememberAtMost) verified.delete(verified.keys().next().value!);
  verified.set(token, { caller, until: Math.min(Date.now() + rememberMs, Number(caller.claims.exp) * 1000) });
  return caller;
}

async function verify(token: string): Promise<Caller> {
  let claims: JWTPayload;
  try {
    const { payload } = await jwtVerify(
      token,
      (protectedHeader) => {
        if (protectedHeader.alg === "HS256" && secret) return secret;
        if (asymmetric.includes(protectedHeader.alg ?? "") && jwks) return jwks(protectedHeader);
        throw new errors.JOSEAlgNotAllowed(`tokens signed with ${protectedHeader.alg} are not accepted`);
      },
      { algorithms: ["HS256", ...asymmetric], requiredClaims: ["exp"] },
    );
    claims = payload;
  } catch (error) {
    throw unauthorized(
      error instanceof errors.JWTExpired
        ? "the token has expired"
        : error instanceof errors.JWTClaimValidationFailed && error.claim === "exp"
        ? "the token has no expiry (exp): tokens must expire"
        : "the token is not valid: its signature, algorithm or claims were refused",
    );
  }

  if (claims.role === "service_role") return { role: "service_role", accountId: null, claims };
  if (claims.role === "authenticated") {
    if (typeof claims.sub !== "string" || !uuid.test(claims.sub)) throw unauthorized("the token has no user id");
    return { role: "authenticated", accountId: claims.sub.toLowerCase(), claims };
  }
  throw unauthorized("sign in: this operation needs a user's token, not the anon key");
}

export function requireServiceRole(caller: Caller): void {
  if (caller.role !== "service_role") {
    throw new HttpError(403, "forbidden", "only the service role may call this operation");
  }
}
