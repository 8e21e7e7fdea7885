// npm run ui: the chat UI's development server. Bundles src/main.tsx with esbuild (again on every page
// load, so an edit shows on reload) and serves it with index.html and styles.css on 127.0.0.1:UI_PORT.
// The page asks /config.json where the API is; nothing else is served.
//
// Settings (environment): UI_PORT (5173); SUPABASE_URL and SUPABASE_ANON_KEY, a hosted project's URL and
// anon key (default: the local stack's, `npm start`). Against a local stack, /config.json also carries a
// token for the seeded demo user, signed here with the local stack's JWT secret: the local stack serves
// no Auth, so that token is how one signs in there. A hosted project's users sign in with Supabase Auth.
import * as esbuild from "esbuild";
import { readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { apiKeys, apiUrl, demoAccountId, userJwt } from "../../scripts/local-stack/config.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const settings = {
  port: Number(env.UI_PORT ?? 5173),
  supabaseUrl: env.SUPABASE_URL ?? apiUrl,
  anonKey: env.SUPABASE_ANON_KEY ?? (await apiKeys()).anonKey,
};
const local = ["127.0.0.1", "localhost"].includes(new URL(settings.supabaseUrl).hostname);

const bundler = await esbuild.context({
  entryPoints: [path.join(here, "src/main.tsx")],
  bundle: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  sourcemap: "linked",
  write: false,
  outfile: "app.js",
  logLevel: "warning",
});

/** What the page needs to know about the API (src/session.ts reads it). */
async function pageConfig() {
  return {
    supabaseUrl: settings.supabaseUrl,
    anonKey: settings.anonKey,
    demoToken: local ? await userJwt(demoAccountId, 24 * 3600) : null,
  };
}

const files: Record<string, [file: string, type: string]> = {
  "/": ["index.html", "text/html"],
  "/index.html": ["index.html", "text/html"],
  "/styles.css": ["styles.css", "text/css"],
};

/** The last bundle's source map, asked for after the bundle (by the browser's developer tools). */
let sourceMap: Uint8Array | undefined;

async function respond(url: string): Promise<[status: number, type: string, body: string | Uint8Array]> {
  if (url === "/app.js") {
    const { outputFiles, errors } = await bundler.rebuild();
    if (errors.length) return [500, "text/plain", errors.map((error) => error.text).join("\n")];
    sourceMap = outputFiles!.find((file) => file.path.endsWith(".map"))?.contents;
    return [200, "text/javascript", outputFiles!.find((file) => file.path.endsWith(".js"))!.contents];
  }
  if (url === "/app.js.map" && sourceMap) return [200, "application/json", sourceMap];
  if (url === "/config.json") return [200, "application/json", JSON.stringify(await pageConfig())];
  const file = files[url];
  if (!file) return [404, "text/plain", "not found"];
  return [200, file[1], await readFile(path.join(here, file[0]))];
}

const server = http.createServer((request, response) => {
  respond(new URL(request.url ?? "/", "http://ui").pathname).then(
    ([status, type, body]) =>
      response.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" }).end(body),
    (error) => response.writeHead(500, { "Content-Type": "text/plain" }).end(String(error)),
  );
});
server.listen(settings.port, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  const signIn = local ? "a local stack: demo sign-in" : "a hosted project: Supabase Auth sign-in";
  console.log(`chat UI: http://127.0.0.1:${port} (API ${settings.supabaseUrl}, ${signIn})`);
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close();
    void bundler.dispose().then(() => process.exit(0));
  });
}
