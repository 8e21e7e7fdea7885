// npm run gen:types: regenerate types/database.ts from the migrations. Never edit that file by hand.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { projectRoot } from "./local-stack/config.ts";
import { openCluster } from "./local-stack/stack.ts";
import { generateTypes, typesFile } from "./local-stack/typegen.ts";

const cluster = await openCluster();
try {
  console.log("generating types from the migrations with the Supabase CLI ...");
  await writeFile(typesFile, await generateTypes(cluster.url));
  console.log(`wrote ${path.relative(projectRoot, typesFile)}`);
} finally {
  await cluster.stop();
}
