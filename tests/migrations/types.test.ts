// types/database.ts is exactly what the Supabase CLI generates from the migrations, and
// types/function-args.ts the SQL functions' argument types as the migrations declare them.
import { readFileSync } from "node:fs";
import { expect, inject, it } from "vitest";
import { functionArgsFile, generatedHeader, generateTypes, typesFile } from "../../scripts/local-stack/typegen.ts";

it("types/database.ts and types/function-args.ts match the migrations (run `npm run gen:types` if not)", async () => {
  const { database, functionArgs } = await generateTypes(inject("clusterUrl"));
  expect(database).toContain("chat_messages: {");
  expect(functionArgs).toContain("append_chunks: {");
  for (const generated of [database, functionArgs]) {
    expect(generated.startsWith(generatedHeader), "the file says it is generated").toBe(true);
  }
  expect(readFileSync(typesFile, "utf8") === database, "types/database.ts is stale: run npm run gen:types").toBe(true);
  expect(
    readFileSync(functionArgsFile, "utf8") === functionArgs,
    "types/function-args.ts is stale: run npm run gen:types",
  )
    .toBe(true);
});
