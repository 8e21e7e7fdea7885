// The local stack's fixed settings: the same ports, credentials and JWT secret as `supabase start`,
// so a client configured for a Supabase CLI project works against this one unchanged.
import { SignJWT } from "jose";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const migrationsDir = path.join(projectRoot, "supabase/migrations");
export const seedFile = path.join(projectRoot, "supabase/seed.sql");
export const bootstrapFile = path.join(projectRoot, "scripts/local-stack/supabase-bootstrap.sql");
/**
 * Git-ignored: the embedded cluster's data. When run as root, PostgreSQL runs as the `postgres` OS
 * user, which must be able to reach this folder: set SUPABASE_LOCAL_DIR if the project sits in a
 * private directory such as /root.
 */
export const stateDir = process.env.SUPABASE_LOCAL_DIR ?? path.join(projectRoot, ".supabase-local");

export const host = "127.0.0.1";
/** The ports of `supabase start`; API_PORT and DB_PORT move them (the benchmark's start-up runs do). */
export const apiPort = Number(process.env.API_PORT ?? 54321);
export const dbPort = Number(process.env.DB_PORT ?? 54322);
export const apiUrl = `http://${host}:${apiPort}`;
/** The database the stack uses: DATABASE_URL if set, else the embedded cluster. */
export const databaseUrl = process.env.DATABASE_URL ??
  `postgresql://postgres:postgres@${host}:${dbPort}/postgres`;

/**
 * The login role the edge functions connect as (created by supabase-bootstrap.sql, which holds the
 * same local-only password): NOINHERIT and a member of authenticated and service_role only, so it
 * can do nothing until a transaction switches to one of them. Migrations, seed and tests connect as
 * postgres. On hosted Supabase this role is created by hand (SECURITY.md).
 */
export const functionsLogin = { user: "edge_functions", password: "edge-functions-local-only" };

/** `url` with the functions' login in place of its user and password. */
export function functionsDatabaseUrl(url: string): string {
  return Object.assign(new URL(url), { username: functionsLogin.user, password: functionsLogin.password }).toString();
}

/** The Supabase CLI's default local JWT secret (HS256). */
export const jwtSecret = process.env.SUPABASE_JWT_SECRET ??
  "super-secret-jwt-token-with-at-least-32-characters-long";

/** The demo account that supabase/seed.sql creates. */
export const demoAccountId = "d3e0d3e0-0000-4000-8000-000000000001";

/** Expiry of the CLI's local anon and service_role keys (2032-11-12). */
const localKeyExpiry = 1983812996;

export function signJwt(payload: Record<string, unknown>, secret = jwtSecret): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}

/** The anon and service_role keys `supabase start` prints: byte for byte the same tokens. */
export function apiKeys(): Promise<{ anonKey: string; serviceRoleKey: string }> {
  return Promise.all([
    signJwt({ iss: "supabase-demo", role: "anon", exp: localKeyExpiry }),
    signJwt({ iss: "supabase-demo", role: "service_role", exp: localKeyExpiry }),
  ]).then(([anonKey, serviceRoleKey]) => ({ anonKey, serviceRoleKey }));
}

/** A user access token as Supabase Auth would issue it, valid for `seconds`. */
export function userJwt(sub: string, seconds = 3600, extra: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signJwt({
    iss: "supabase-demo",
    sub,
    role: "authenticated",
    aud: "authenticated",
    iat: now,
    exp: now + seconds,
    ...extra,
  });
}
