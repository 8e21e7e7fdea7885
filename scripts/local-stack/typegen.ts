// types/database.ts comes from the Supabase CLI's own generator, run against a database that was
// built from the migrations alone, then formatted so the committed file is stable.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import { projectRoot } from "./config.ts";
import { bootstrap, connect, migrate, recreateDatabase } from "./database.ts";

const run = promisify(execFile);
const bin = (name: string) => path.join(projectRoot, "node_modules/.bin", name);

export const typesFile = path.join(projectRoot, "types/database.ts");

/** Builds a scratch database next to `clusterUrl` from the migrations and generates its types. */
export async function generateTypes(clusterUrl: string): Promise<string> {
  const scratch = new URL(clusterUrl);
  scratch.pathname = `/typegen_${process.pid}`;
  await recreateDatabase(scratch.toString());
  try {
    const sql = connect(scratch.toString());
    try {
      await bootstrap(sql);
      await migrate(sql);
    } finally {
      await sql.end();
    }
    scratch.searchParams.set("sslmode", "disable");
    const { stdout } = await run(bin("supabase"), [
      "gen",
      "types",
      "typescript",
      `--remote=${scratch}`,
      "--schema",
      "public",
    ], { cwd: projectRoot, maxBuffer: 16 << 20 });
    return await format(stdout);
  } finally {
    const admin = connect(clusterUrl);
    await admin`drop database if exists ${admin(scratch.pathname.slice(1))} with (force)`;
    await admin.end();
  }
}

function format(source: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin("deno"), ["fmt", "--ext", "ts", "-"], { cwd: projectRoot }, (error, stdout) => {
      if (error) reject(error);
      else resolve(stdout);
    });
    child.stdin!.end(source);
  });
}
