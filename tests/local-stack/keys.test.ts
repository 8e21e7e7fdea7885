// The local stack hands out the same keys as `supabase start`, so clients configured for a Supabase
// CLI project work unchanged.
import { jwtVerify } from "jose";
import { expect, it } from "vitest";
import { apiKeys, jwtSecret, userJwt } from "../../scripts/local-stack/config.ts";

it("prints the Supabase CLI's own local anon and service_role keys", async () => {
  const { anonKey, serviceRoleKey } = await apiKeys();
  expect(anonKey).toBe(
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9." +
      "CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0",
  );
  expect(serviceRoleKey).toBe(
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0." +
      "EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU",
  );
});

it("signs user tokens the way Supabase Auth does", async () => {
  const token = await userJwt("d3e0d3e0-0000-4000-8000-000000000001", 60);
  const { payload } = await jwtVerify(token, new TextEncoder().encode(jwtSecret), { audience: "authenticated" });
  expect(payload).toMatchObject({ role: "authenticated", sub: "d3e0d3e0-0000-4000-8000-000000000001" });
  expect(payload.exp! - payload.iat!).toBe(60);
});
