// A raw TCP client, for what no HTTP client sends: headers that never end, half a body, a socket
// left open.
import { once } from "node:events";
import net from "node:net";

export interface RawSocket {
  socket: net.Socket;
  /** Everything received so far. */
  received(): string;
  /** Settles when the server closes the socket: milliseconds since it was opened. */
  closed: Promise<number>;
}

export async function rawSocket(url: string): Promise<RawSocket> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on("error", () => {});
  await once(socket, "connect");
  const opened = performance.now();
  let data = "";
  socket.on("data", (chunk) => (data += chunk));
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(performance.now() - opened)));
  return { socket, received: () => data, closed };
}

/** A request head, ready to write. */
export const head = (method: string, path: string, headers: Record<string, string | number> = {}) =>
  `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n` +
  Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("") + "\r\n";
