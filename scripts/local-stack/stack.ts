// The local stack's database server: the embedded cluster, or DATABASE_URL.
import net from "node:net";
import path from "node:path";
import { databaseUrl, dbPort, host, stateDir } from "./config.ts";
import { type Cluster, startCluster } from "./cluster.ts";

export const dataDir = path.join(stateDir, "data");

/** True when something accepts TCP connections on host:port. */
export function isListening(port: number, onHost = host): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: onHost });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts the embedded cluster unless DATABASE_URL names another PostgreSQL or the local cluster is
 * already up (then `stop` leaves it running).
 */
export async function openCluster(): Promise<Cluster> {
  if (process.env.DATABASE_URL || await isListening(dbPort)) {
    return { url: databaseUrl, created: false, stop: async () => {} };
  }
  return startCluster({ dataDir, port: dbPort });
}
