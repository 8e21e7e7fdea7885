// Hardening round 3 (migration 20261206110000), in SQL as PostgREST would run a signed-in user's
// requests: server-owned columns change only through the operations, a budget holds for direct
// inserts, private functions stay closed to the API roles, list cursors are exactly what the API
// encodes, and a runner that lost its chat writes nothing on its behalf.
import { describe, expect, it } from "vitest";
import { asUser, call, failure, useTestDatabase } from "../support/db.ts";
import { id, makeOwnedTree, uiMessage } from "../support/factories.ts";

const { sql } = await useTestDatabase();

/** Per table, the columns an API role may insert, and may change by a direct update (privilege, policy and guard). */
async function writableColumns(role: "authenticated" | "anon") {
  const rows = await sql`
    with guarded as (
      select c.relname as table_name, a.name as column_name
        from pg_trigger t join pg_class c on c.oid = t.tgrelid
       cross join lateral unnest(string_to_array(rtrim(encode(t.tgargs, 'escape'), '\\000'), '\\000')) a(name)
       where t.tgfoid = 'private.refuse_server_owned_changes'::regproc
    ),
    updatable_tables as (
      select tablename from pg_policies
       where schemaname = 'public' and cmd in ('UPDATE', 'ALL') and ${role} = any(roles)
    ),
    insertable_tables as (
      select tablename from pg_policies
       where schemaname = 'public' and cmd in ('INSERT', 'ALL') and ${role} = any(roles)
    )
    select col.table_name, col.column_name,
           has_column_privilege(${role}, format('public.%I', col.table_name), col.column_name, 'INSERT')
             and col.table_name in (select tablename from insertable_tables) as inserts,
           has_column_privilege(${role}, format('public.%I', col.table_name), col.column_name, 'UPDATE')
             and col.table_name in (select tablename from updatable_tables)
             and (col.table_name, col.column_name) not in (select table_name, column_name from guarded) as updates
      from information_schema.columns col
     where col.table_schema = 'public'
     order by col.table_name, col.ordinal_position`;
  const of = (kind: "inserts" | "updates") => {
    const map: Record<string, string[]> = {};
    for (const row of rows) if (row[kind]) (map[row.table_name] ??= []).push(row.column_name);
    return map;
  };
  return { inserts: of("inserts"), updates: of("updates") };
}

const sessionColumns = [
  "title",
  "status",
  "repo_owner",
  "repo_name",
  "branch",
  "clone_url",
  "is_new_branch",
  "auto_commit_push_override",
  "global_skill_refs",
  "sandbox_state",
  "lifecycle_state",
  "lifecycle_version",
  "last_activity_at",
  "sandbox_expires_at",
  "hibernate_after",
  "lifecycle_run_id",
  "lifecycle_error",
  "lines_added",
  "lines_removed",
  "snapshot_url",
  "snapshot_created_at",
  "snapshot_size_bytes",
  "cached_diff",
  "cached_diff_updated_at",
];

describe("the columns an API role may write", () => {
  it("authenticated: exactly these (a migration that widens either list fails here)", async () => {
    const { inserts, updates } = await writableColumns("authenticated");
    expect(inserts).toEqual({
      accounts: ["id", "created_at", "updated_at"],
      chat_context_resources: [
        "chat_id",
        "source",
        "kind",
        "body",
        "content_hash",
        "size_bytes",
        "status",
        "pinned_at",
        "created_at",
        "updated_at",
      ],
      chat_messages: ["id", "chat_id", "role", "parts"],
      chat_queued_messages: ["id", "chat_id", "message", "position"],
      chat_reads: ["account_id", "chat_id", "last_read_at"],
      chats: ["id", "session_id", "title", "model_id"],
      sessions: ["id", "account_id", ...sessionColumns],
    });
    expect(updates).toEqual({
      chat_context_resources: ["kind", "body"],
      chat_messages: ["parts"],
      chat_queued_messages: ["message"],
      chat_reads: ["last_read_at"],
      chats: ["title", "model_id"],
      sessions: sessionColumns,
    });
  });

  it("anon: none", async () => {
    expect(await writableColumns("anon")).toEqual({ inserts: {}, updates: {} });
  });
});

describe("server-owned columns, written directly by their owner", () => {
  const attempts: [string, string][] = [
    ["status", "'running'"],
    ["active_stream_id", "'fake'"],
    ["runner_id", "'evil'"],
    ["heartbeat_at", "'infinity'"],
    ["attempts", "0"],
    ["last_message_seq", "0"],
    ["revision", "0"],
    ["archived_at", "now()"],
    ["last_assistant_message_at", "now()"],
    ["status_changed_at", "'epoch'"],
  ];
  for (const [column, value] of attempts) {
    it(`chats.${column} is refused, and the row is unchanged`, async () => {
      const tree = await makeOwnedTree(sql);
      await sql`update chats set attempts = 2 where id = ${tree.chat.id}`;
      const [before] = await sql`select to_jsonb(c) as row from chats c where id = ${tree.chat.id}`;
      const error = await failure(
        asUser(
          sql,
          tree.accountId,
          (tx) => tx.unsafe(`update chats set ${column} = ${value} where id = $1`, [tree.chat.id]),
        ),
      );
      expect(error).toMatchObject({
        code: "42501",
        message: `chats.${column} is kept by the server: it changes only through the API's operations`,
      });
      const [after] = await sql`select to_jsonb(c) as row from chats c where id = ${tree.chat.id}`;
      expect(after.row).toEqual(before.row);
    });
  }

  it("the columns a client owns still change directly, and the operations still move the rest", async () => {
    const tree = await makeOwnedTree(sql);
    await asUser(sql, tree.accountId, (tx) => tx`update chats set title = 'Renamed' where id = ${tree.chat.id}`);
    const message = uiMessage(id("u"), "user", "go");
    await call(sql, tree.accountId, "public.append_message($1, $2)", tree.chat.id, message);
    await call(sql, tree.accountId, "public.stop_chat($1)", tree.chat.id);
    await call(sql, tree.accountId, "public.archive_chat($1, true)", tree.chat.id);
    const [chat] =
      await sql`select title, status, archived_at is not null as archived from chats where id = ${tree.chat.id}`;
    expect(chat).toEqual({ title: "Renamed", status: "idle", archived: true });
  });

  it("a message's role, seq and revision, and a queued message's position, are the server's", async () => {
    const tree = await makeOwnedTree(sql);
    for (const column of ["role = 'assistant'", "revision = 0", "seq = 99"]) {
      const error = await failure(
        asUser(
          sql,
          tree.accountId,
          (tx) => tx.unsafe(`update chat_messages set ${column} where id = $1`, [tree.message.id]),
        ),
      );
      expect(error?.code, column).toMatch(/^(42501|23514)$/);
    }
  });

  it("a chat inserted directly takes the server's defaults: naming a server-owned column is refused", async () => {
    const tree = await makeOwnedTree(sql);
    const error = await failure(
      asUser(sql, tree.accountId, (tx) =>
        tx`insert into chats (id, session_id, status, runner_id, heartbeat_at)
         values (${id("chat")}, ${tree.session.id}, 'running', 'evil', 'infinity')`),
    );
    expect(error?.code).toBe("42501");
    const own = id("chat");
    await asUser(
      sql,
      tree.accountId,
      (tx) => tx`insert into chats (id, session_id, title) values (${own}, ${tree.session.id}, 'Mine')`,
    );
    expect((await sql`select status, attempts from chats where id = ${own}`)[0]).toEqual({
      status: "idle",
      attempts: 0,
    });
  });
});

describe("budgets hold for direct writes", () => {
  it("a user message inserted directly into a running chat is refused over budget", async () => {
    const tree = await makeOwnedTree(sql);
    await call(sql, tree.accountId, "public.append_message($1, $2)", tree.chat.id, uiMessage(id("u"), "user"));
    await call(sql, null, "public.claim_chats('runner', 1, array[$1])", tree.chat.id);
    await sql`insert into account_budgets (account_id, limit_cost_micros) values (${tree.accountId}, 0)`;
    const messageId = id("u");
    const error = await failure(
      asUser(sql, tree.accountId, (tx) =>
        tx`insert into chat_messages (id, chat_id, role, parts)
         values (${messageId}, ${tree.chat.id}, 'user', ${tx.json(uiMessage(messageId, "user"))})`),
    );
    expect(error).toMatchObject({ code: "PT402", detail: "budget_exceeded" });
  });

  it("an assistant message turned into a user message by an update is refused", async () => {
    const tree = await makeOwnedTree(sql);
    await sql`insert into account_budgets (account_id, limit_cost_micros) values (${tree.accountId}, 0)`;
    const messageId = id("a");
    await asUser(sql, tree.accountId, (tx) =>
      tx`insert into chat_messages (id, chat_id, role, parts)
         values (${messageId}, ${tree.chat.id}, 'assistant', ${tx.json(uiMessage(messageId, "assistant"))})`);
    const error = await failure(
      asUser(sql, tree.accountId, (tx) => tx`update chat_messages set role = 'user' where id = ${messageId}`),
    );
    expect(error?.code).toBe("42501");
  });
});

describe("what the API roles may execute", () => {
  it("in private: only the helpers the user's operations call as the user", async () => {
    const rows = await sql`
      select r.role, p.proname
        from pg_proc p cross join unnest(array['anon', 'authenticated']) r(role)
       where p.pronamespace = 'private'::regnamespace and has_function_privilege(r.role, p.oid, 'EXECUTE')
       order by 1, 2`;
    expect(rows.filter((r) => r.role === "anon")).toEqual([]);
    // Each reads as the caller (RLS applies) or, for the owned_* helpers, only the caller's own ids;
    // cut_history (SECURITY DEFINER) first checks that the chat is the caller's.
    expect(rows.map((r) => r.proname)).toEqual([
      "acting_account",
      "budget_status",
      "chat_summary",
      "check_page_size",
      "cut_history",
      "decode_cursor",
      "defer_announcement",
      "deny_open_approvals",
      "encode_cursor",
      "has_open_approvals",
      "is_unread",
      "message_summary",
      "over_budget",
      "period_start",
      "queue_of",
      "title_from_message",
    ]);
  });

  it("in public: the user's operations, and none of the backend's", async () => {
    const rows = await sql`
      select p.proname from pg_proc p
       where p.pronamespace = 'public'::regnamespace and has_function_privilege('authenticated', p.oid, 'EXECUTE')
       order by 1`;
    expect(rows.map((r) => r.proname)).toEqual([
      "answer_approvals",
      "append_message",
      "archive_chat",
      "chat_changes",
      "chat_positions",
      "chat_revisions",
      "create_chat",
      "create_session_with_chat",
      "delete_queued_message",
      "edit_message",
      "get_context",
      "get_messages",
      "get_usage",
      "list_chats",
      "list_sessions",
      "mark_read",
      "pin_context",
      "promote_queued_message",
      "regenerate",
      "respond_to_approval",
      "stop_chat",
    ]);
    const anon = await sql`
      select p.proname from pg_proc p
       where p.pronamespace = 'public'::regnamespace and has_function_privilege('anon', p.oid, 'EXECUTE')`;
    expect(anon).toEqual([]);
  });

  it("is_followed answers no signed-in user", async () => {
    const tree = await makeOwnedTree(sql);
    const error = await failure(asUser(sql, tree.accountId, (tx) => tx`select private.is_followed(${tree.chat.id})`));
    expect(error?.code).toBe("42501");
  });
});

describe("list cursors", () => {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const forged = [
    ["infinity", "x"],
    ["-infinity", "x"],
    ["now", "x"],
    ["epoch", "x"],
    ["2026-01-01T00:00:00Z", "x", "extra"],
    ["2026-01-01T00:00:00Z"],
    [1, "x"],
    ["2026-01-01T00:00:00Z", ""],
    ["2026-01-01T00:00:00Z", 5],
    { at: "2026-01-01T00:00:00Z", id: "x" },
  ];
  for (
    const [name, call_] of [
      ["list_sessions", "public.list_sessions(page_cursor => $1)"],
      ["list_chats", "public.list_chats(page_cursor => $1)"],
    ]
  ) {
    it(`${name} refuses a well-formed forged cursor with invalid_cursor`, async () => {
      const tree = await makeOwnedTree(sql);
      for (const value of forged) {
        const error = await failure(call(sql, tree.accountId, call_, encode(value)));
        expect(error, JSON.stringify(value)).toMatchObject({ code: "PT400", detail: "invalid_cursor" });
      }
      const genuine = encode(["2026-01-01T00:00:00.123456+00:00", "x"]);
      expect(await call(sql, tree.accountId, call_, genuine)).toBeTypeOf("object");
    });
  }
});

describe("a runner that lost its chat", () => {
  async function heldBy(runner: string) {
    const tree = await makeOwnedTree(sql);
    await call(sql, tree.accountId, "public.append_message($1, $2)", tree.chat.id, uiMessage(id("u"), "user"));
    const { claims } = await call(sql, null, "public.claim_chats($1, 1, array[$2])", runner, tree.chat.id);
    return { ...tree, runId: claims[0].run.id as string };
  }

  it("writes no assistant message: the backend must name the holder", async () => {
    const chat = await heldBy("new-holder");
    const reply = uiMessage(id("a"), "assistant", "late");
    for (const runner of [null, "old-holder"]) {
      const error = await failure(call(sql, null, "public.append_message($1, $2, $3)", chat.chat.id, reply, runner));
      expect(error, String(runner)).toMatchObject({ code: "PT409", detail: "not_held" });
    }
    expect(await sql`select 1 from chat_messages where id = ${reply.id}`).toHaveLength(0);
    await call(sql, null, "public.append_message($1, $2, 'new-holder')", chat.chat.id, reply);
    expect(await sql`select 1 from chat_messages where id = ${reply.id}`).toHaveLength(1);
  });

  it("records no steps; an unheld chat takes the backend's writes as before", async () => {
    const chat = await heldBy("new-holder");
    const step = { step_number: 1, started_at: new Date().toISOString(), finished_at: new Date().toISOString() };
    const error = await failure(call(
      sql,
      null,
      "public.log_workflow_step($1, $2, steps => $3, runner_id => 'old-holder')",
      chat.runId,
      chat.chat.id,
      [step],
    ));
    expect(error).toMatchObject({ code: "PT409", detail: "not_held" });
    expect(await sql`select 1 from workflow_run_steps where workflow_run_id = ${chat.runId}`).toHaveLength(0);
    const idle = await makeOwnedTree(sql);
    await call(sql, null, "public.append_message($1, $2)", idle.chat.id, uiMessage(id("a"), "assistant"));
  });
});
