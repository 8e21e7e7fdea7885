// What each piece of an append costs PostgreSQL, in one backend: `npx tsx bench/append-triggers.ts`.
//
// At 16 writers on 2 cores, rounds of pgbench swing by ±60 µs per append, more than most single
// triggers cost; one backend running appends back to back swings far less. A DO loop of N
// append_message calls as the user, each committed (its own transaction, so the once-per-transaction
// rules act as they do in production), measured by that backend's CPU time from /proc (or the wall
// time, if less: a 10 ms tick is coarse). Each variant is applied, measured and reverted in turn,
// round after round, and the medians reported with what each saves against the first.
//
// Variants: by default the schema as it is, then each trigger (or the CHECK constraints, or the
// message tables' row level security) disabled in turn: what it costs, not something to ship.
// VARIANTS='[{"name": "...", "apply": "<sql>", "revert": "<sql>"}]' measures others (the first is
// the baseline). N appends per measurement (2000), R rounds (7).
import { randomUUID } from "node:crypto";
import { connect } from "../scripts/local-stack/database.ts";
import { throwawayStack } from "../scripts/local-stack/throwaway.ts";
import { processSeconds } from "./cpu.ts";
import { median } from "./tools.ts";

interface Variant {
  name: string;
  apply?: string;
  revert?: string;
}

const disableTrigger = (name: string, table: string, trigger: string): Variant => ({
  name,
  apply: `alter table public.${table} disable trigger ${trigger}`,
  revert: `alter table public.${table} enable trigger ${trigger}`,
});
const messageTables = ["chat_messages", "chat_queued_messages", "chat_cut_messages"];
const defaults: Variant[] = [
  { name: "nothing disabled" },
  disableTrigger("the revision bookkeeping", "chats", "chats_track_change"),
  disableTrigger("the session touch", "chats", "chats_touch_session_on_activity"),
  disableTrigger("the budget check", "chat_messages", "chat_messages_check_budget"),
  disableTrigger("the hint", "chats", "chats_notify_change"),
  disableTrigger("the server-owned guard on chats", "chats", "chats_0_server_owned"),
  {
    name: "row level security of the message tables",
    apply: messageTables.map((t) => `alter table public.${t} disable row level security;`).join(""),
    revert: messageTables.map((t) => `alter table public.${t} enable row level security;`).join(""),
  },
];

const appends = Number(process.env.N ?? 2000);
const rounds = Number(process.env.R ?? 7);

const stack = await throwawayStack({}, { keepLogs: false });
const admin = stack.sql;
// Every update of a chat evaluates all of its CHECK constraints, each read back from the catalog.
const checks = await admin`
  select conname, pg_get_constraintdef(oid) as definition from pg_constraint
   where conrelid = 'public.chats'::regclass and contype = 'c'`;
defaults.push({
  name: "the CHECK constraints of chats",
  apply: `alter table public.chats ${checks.map((c) => `drop constraint ${c.conname}`).join(", ")}`,
  revert: `alter table public.chats ${checks.map((c) => `add constraint ${c.conname} ${c.definition}`).join(", ")}`,
});
const variants: Variant[] = process.env.VARIANTS ? JSON.parse(process.env.VARIANTS) : defaults;
// CPU-bound: a commit does not wait for the disk.
await admin`alter system set synchronous_commit = off`;
await admin`select pg_reload_conf()`;
const accountId = randomUUID();
await admin`insert into accounts (id) values (${accountId})`;
await admin`insert into sessions (id, account_id, title) values ('bench', ${accountId}, 'bench')`;

const user = connect(stack.databaseUrl, { max: 1 });
const [{ pid }] = await user`select pg_backend_pid() as pid`;
const claims = JSON.stringify({ sub: accountId, role: "authenticated", aud: "authenticated" });
// A chat's appends, message ids prefix-1..prefix-count, each committed.
const appendLoop = (chatId: string, prefix: string, count: number) => `
  do $$ begin
    perform set_config('role', 'authenticated', false), set_config('request.jwt.claims', '${claims}', false);
    for i in 1..${count} loop
      perform public.append_message('${chatId}', jsonb_build_object('id', '${prefix}-' || i, 'role', 'user',
        'parts', '[{"type": "text", "text": "benchmark message"}]'::jsonb));
      commit;
    end loop;
    perform set_config('role', 'postgres', false);
  end $$`;

const results: Record<string, number[]> = {};
let chats = 0;
for (let round = 1; round <= rounds; round++) {
  for (const variant of variants) {
    if (variant.apply) await admin.unsafe(variant.apply);
    const chatId = `chat-${chats++}`;
    await admin`insert into chats (id, session_id) values (${chatId}, 'bench')`;
    await user.unsafe(appendLoop(chatId, `warm-${chatId}`, 50)).simple(); // this variant's plans cached
    const cpuBefore = processSeconds(pid), started = performance.now();
    await user.unsafe(appendLoop(chatId, chatId, appends)).simple();
    const cpu = (processSeconds(pid) - cpuBefore) * 1e6 / appends,
      wall = (performance.now() - started) * 1000 / appends;
    (results[variant.name] ??= []).push(Math.round(Math.min(cpu, wall)));
    if (variant.revert) await admin.unsafe(variant.revert);
  }
  console.error(`round ${round}/${rounds}: ${JSON.stringify(results)}`);
}
const baseline = median(results[variants[0].name]);
console.log(`µs of PostgreSQL CPU per append, one backend, medians of ${rounds} rounds of ${appends}:`);
for (const variant of variants) {
  const us = median(results[variant.name]);
  console.log(
    `${variant.name.padEnd(44)} ${String(us).padStart(5)}${us === baseline ? "" : `  saves ${baseline - us}`}`,
  );
}
await user.end();
await stack.stop();
