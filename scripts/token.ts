// npm run -s token -- anon|service_role|demo: prints one of the tokens `npm start` prints (the demo
// user's is freshly signed, valid for a year), so the README's setup reads it into a variable instead
// of asking the reader to copy it from the banner.
import { apiKeys, demoAccountId, userJwt } from "./local-stack/config.ts";

const { anonKey, serviceRoleKey } = await apiKeys();
const tokens: Record<string, string> = {
  anon: anonKey,
  service_role: serviceRoleKey,
  demo: await userJwt(demoAccountId, 365 * 24 * 3600),
};
const kind = process.argv[2] ?? "";
if (!(kind in tokens)) {
  console.error(`usage: npm run -s token -- ${Object.keys(tokens).join("|")}`);
  process.exit(2);
}
console.log(tokens[kind]);
