// types/database.ts is exactly what the Supabase CLI generates from the migrations.
import { readFileSync } from "node:fs";
import { expect, inject, it } from "vitest";
import { generatedHeader, generateTypes, typesFile } from "../../scripts/local-stack/typegen.ts";

it("types/database.ts matches the migrations (run `npm run gen:types` if not)", async () => {
  const generated = await generateTypes(inject("clusterUrl"));
  expect(generated).toContain("chat_messages: {");
  expect(generated.startsWith(generatedHeader), "the file says it is generated").toBe(true);
  expect(readFileSync(typesFile, "utf8") === generated, "types/database.ts is stale: run npm run gen:types").toBe(true);
});
