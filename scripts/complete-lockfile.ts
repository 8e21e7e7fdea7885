// The registry these machines reach lacks some platform builds of the Supabase CLI and of Deno
// (macOS, Windows, arm64, musl), so `npm install` here writes a package-lock.json without them, and
// `npm ci` then refuses the lockfile ("Missing: @supabase/cli-darwin-arm64 from lock file"). This restores the
// entries npm would write with the full registry: optional, and fenced by os/cpu/libc, so each
// machine installs only its own build. Run after any `npm install` that rewrites the lockfile.
import { readFileSync, writeFileSync } from "node:fs";

const lockPath = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, "utf8"));
const osOf: Record<string, string> = { darwin: "darwin", linux: "linux", windows: "win32", win32: "win32" };

let added = 0;
for (const [owner, entry] of Object.entries<Record<string, Record<string, string>>>(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    // @supabase/cli-linux-x64-musl, @deno/linux-arm64-glibc, @deno/win32-x64, ...
    const platform = /[/-](darwin|linux|windows|win32)-(arm64|x64)(-musl|-glibc)?$/.exec(name);
    if (lock.packages[key] || !platform) continue;
    lock.packages[key] = {
      version,
      cpu: [platform[2]],
      dev: true,
      ...(platform[1] === "linux" ? { libc: [platform[3] === "-musl" ? "musl" : "glibc"] } : {}),
      license: "MIT",
      optional: true,
      os: [osOf[platform[1]]],
    };
    console.log(`added ${key}@${version} (optional dependency of ${owner})`);
    added++;
  }
}
if (added) {
  // In npm's own order (the root first, then by path), so a later `npm install` leaves the file as is.
  const [root, ...rest] = Object.keys(lock.packages);
  lock.packages = Object.fromEntries(
    [root, ...rest.sort((a, b) => a.localeCompare(b, "en"))].map((key) => [key, lock.packages[key]]),
  );
  writeFileSync(lockPath, JSON.stringify(lock, null, 2) + "\n");
}
console.log(`${added} lockfile entries added`);
