// npm run gen:types: regenerate types/database.ts and types/function-args.ts from the migrations. Never
// edit those files by hand.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { projectRoot } from "./local-stack/config.ts";
import { openCluster } from "./local-stack/stack.ts";
import { functionArgsFile, generateTypes, typesFile } from "./local-stack/typegen.ts";

const cluster = await openCluster();
try {
  console.log("generating types from the migrations with the Supabase CLI ...");
  const { database, functionArgs } = await generateTypes(cluster.url);
  await writeFile(typesFile, database);
  await writeFile(functionArgsFile, functionArgs);
  console.log(`wrote ${path.relative(projectRoot, typesFile)} and ${path.relative(projectRoot, functionArgsFile)}`);
} finally {
  await cluster.stop();
}
