// The local stand-in for Supabase's edge runtime and API gateway, in one real Deno process: every
// folder under functions/ (except _shared) is served at /functions/v1/<name>, as `supabase
// functions serve` does. The functions stay exactly as deployed: each index.ts calls
// Deno.serve(handler), and this file captures that handler instead of opening a port per function.
type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

const functionsDir = new URL("../../functions/", import.meta.url);
const port = Number(Deno.env.get("PORT") ?? 54321);

async function loadHandler(entrypoint: URL): Promise<Handler> {
  let captured: Handler | undefined;
  const serve = Deno.serve;
  // deno-lint-ignore no-explicit-any
  (Deno as any).serve = (...args: unknown[]) => {
    const last = args.at(-1);
    captured = typeof last === "function" ? last as Handler : (last as { handler: Handler }).handler;
    return { finished: Promise.resolve(), ref() {}, unref() {}, shutdown: () => Promise.resolve() };
  };
  try {
    await import(entrypoint.href);
  } finally {
    (Deno as { serve: typeof serve }).serve = serve;
  }
  if (!captured) throw new Error(`${entrypoint.pathname} never called Deno.serve(handler)`);
  return captured;
}

const handlers = new Map<string, Handler>();
for (const entry of [...Deno.readDirSync(functionsDir)].sort((a, b) => a.name.localeCompare(b.name))) {
  if (!entry.isDirectory || entry.name.startsWith("_") || entry.name.startsWith(".")) continue;
  handlers.set(entry.name, await loadHandler(new URL(`${entry.name}/index.ts`, functionsDir)));
}

const notFound = (message: string) => Response.json({ error: { code: "not_found", message } }, { status: 404 });

// Exit (rather than die) on SIGTERM, so exit hooks such as --cpu-prof run.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: () => console.log(`functions listening on :${port}: ${[...handlers.keys()].join(", ") || "(none)"}`),
}, (request, info) => {
  const match = /^\/functions\/v1\/([^/?]+)/.exec(new URL(request.url).pathname);
  if (!match) return notFound("only /functions/v1/<name> is served here");
  const handler = handlers.get(match[1]);
  if (!handler) return notFound(`no function named ${match[1]}`);
  return handler(request, info);
});
