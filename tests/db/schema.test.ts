// The migrated schema has the shape the product relies on and documents itself.
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/db.ts";

const { sql } = await useTestDatabase();

const tables = [
  "accounts",
  "sessions",
  "chats",
  "chat_messages",
  "chat_queued_messages",
  "chat_reads",
  "chat_streams",
  "chat_stream_chunks",
  "chat_context_resources",
  "session_context_resources",
  "workflow_runs",
  "workflow_run_steps",
  "workflow_run_usage",
  "chat_usage",
  "session_usage",
  "usage_daily",
  "account_budgets",
  "chat_history_cuts",
  "chat_cut_messages",
];

describe("the schema", () => {
  it("has exactly the tables of the migrations in public", async () => {
    const rows = await sql`select tablename from pg_tables where schemaname = 'public' order by 1`;
    expect(rows.map((r) => r.tablename)).toEqual([...tables].sort());
  });

  it("has the columns each table is specified with", async () => {
    const rows = await sql`
      select table_name, column_name, data_type, is_nullable, column_default
        from information_schema.columns where table_schema = 'public'`;
    const column = (t: string, c: string) => rows.find((r) => r.table_name === t && r.column_name === c);
    expect(column("sessions", "snapshot_size_bytes")?.data_type).toBe("bigint");
    expect(column("sessions", "global_skill_refs")).toMatchObject({ data_type: "jsonb", is_nullable: "NO" });
    expect(column("sessions", "status")?.column_default).toBe("'running'::text");
    expect(column("sessions", "auto_commit_push_override")).toMatchObject({ data_type: "boolean", is_nullable: "YES" });
    expect(column("chats", "title")?.column_default).toBe("'New chat'::text");
    expect(column("chats", "model_id")?.column_default).toBeNull();
    expect(column("chat_messages", "seq")?.data_type).toBe("bigint");
    expect(column("chat_messages", "parts")).toMatchObject({ data_type: "jsonb", is_nullable: "NO" });
    expect(column("chat_reads", "last_read_at")).toMatchObject({ is_nullable: "NO", column_default: "now()" });
    expect(column("workflow_runs", "started_at")?.is_nullable).toBe("NO");
    // Milliseconds in bigint: an integer overflows after 24.8 days.
    expect(column("workflow_run_steps", "duration_ms")).toMatchObject({ data_type: "bigint", is_nullable: "NO" });
    expect(column("workflow_runs", "total_duration_ms")).toMatchObject({ data_type: "bigint", is_nullable: "YES" });
    expect(column("workflow_run_steps", "updated_at")).toBeUndefined();
    expect(column("workflow_runs", "session_id")).toBeUndefined();
    for (const c of ["input_tokens", "cache_read_tokens", "output_tokens", "total_tokens", "cost_micros"]) {
      // Per step: unknown stays NULL. In a total: a sum, never NULL.
      expect(column("workflow_run_steps", c), c).toMatchObject({ data_type: "bigint", is_nullable: "YES" });
      expect(column("usage_daily", c), c).toMatchObject({
        data_type: "bigint",
        is_nullable: "NO",
        column_default: "0",
      });
      expect(column("chat_usage", c), c).toMatchObject({ data_type: "bigint", is_nullable: "NO" });
    }
    expect(column("account_budgets", "limit_cost_micros")).toMatchObject({ data_type: "bigint", is_nullable: "YES" });
    for (const t of tables) {
      expect(column(t, "created_at")?.data_type, t).toBe("timestamp with time zone");
    }
    const timestampsWithoutZone = rows.filter((r) => r.data_type === "timestamp without time zone");
    expect(timestampsWithoutZone).toEqual([]);
  });

  it("uses text + CHECK for statuses, never enums", async () => {
    const [{ n }] = await sql`
      select count(*)::int as n from pg_type t join pg_namespace ns on ns.oid = t.typnamespace
       where ns.nspname = 'public' and t.typtype = 'e'`;
    expect(n).toBe(0);
  });

  it("enables row level security on every table", async () => {
    const rows = await sql`
      select relname from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r'
         and not relrowsecurity`;
    expect(rows).toEqual([]);
  });

  it("cascades every foreign key and indexes every foreign-key column", async () => {
    const fks = await sql`
      select c.conrelid::regclass::text as tbl, c.confdeltype, array_agg(a.attname order by k.ord) as cols,
             exists (
               select 1 from pg_index i
                where i.indrelid = c.conrelid
                  and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey
             ) as indexed
        from pg_constraint c
        cross join lateral unnest(c.conkey) with ordinality as k(attnum, ord)
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
       where c.contype = 'f' and c.connamespace = 'public'::regnamespace
       group by c.oid, c.conrelid, c.confdeltype, c.conkey`;
    expect(fks.length).toBe(24);
    for (const fk of fks) {
      expect(fk.confdeltype, `${fk.tbl}(${fk.cols})`).toBe("c");
      expect(fk.indexed, `${fk.tbl}(${fk.cols}) has no index`).toBe(true);
    }
  });

  it("indexes messages by (chat_id, seq) and steps uniquely by (workflow_run_id, step_number)", async () => {
    const rows = await sql`select indexdef from pg_indexes where schemaname = 'public'`;
    const defs = rows.map((r) => r.indexdef);
    expect(defs).toContainEqual(expect.stringMatching(/UNIQUE INDEX .* ON public\.chat_messages .*\(chat_id, seq\)/));
    expect(defs).toContainEqual(
      expect.stringMatching(/UNIQUE INDEX .* ON public\.workflow_run_steps .*\(workflow_run_id, step_number\)/),
    );
    expect(defs).toContainEqual(expect.stringMatching(/ON public\.chat_reads .*\(chat_id\)/));
  });

  it("keeps updated_at with a BEFORE UPDATE trigger on every table that has the column (chats: with its revision)", async () => {
    const rows = await sql`
      select col.table_name,
             exists (
               select 1 from pg_trigger tg join pg_proc p on p.oid = tg.tgfoid
                where tg.tgrelid = format('public.%I', col.table_name)::regclass and not tg.tgisinternal
                  and p.proname in ('set_updated_at', 'track_chat_change') and (tg.tgtype & 2) = 2 and (tg.tgtype & 16) = 16
             ) as has_trigger
        from information_schema.columns col
       where col.table_schema = 'public' and col.column_name = 'updated_at'`;
    expect(rows.length).toBe(10);
    expect(rows.filter((r) => !r.has_trigger)).toEqual([]);
  });

  it("pins search_path on every function it defines", async () => {
    const rows = await sql`
      select p.oid::regprocedure::text as fn from pg_proc p
       where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
         and not exists (select 1 from unnest(p.proconfig) c where c like 'search_path=%')`;
    expect(rows).toEqual([]);
  });

  it("comments every table", async () => {
    const rows = await sql`
      select relname from pg_class
       where relnamespace = 'public'::regnamespace and relkind = 'r' and obj_description(oid, 'pg_class') is null`;
    expect(rows).toEqual([]);
  });

  it("records the migrations where the Supabase CLI records them", async () => {
    const rows = await sql`select version, name from supabase_migrations.schema_migrations order by version`;
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows[0]).toMatchObject({ name: "agent_chat_schema" });
    expect(rows.every((r) => /^\d{14}$/.test(r.version))).toBe(true);
  });
});

describe("realtime", () => {
  it("publishes chats and chat_messages to Supabase Realtime, and nothing else", async () => {
    const rows = await sql`
      select tablename from pg_publication_tables where pubname = 'supabase_realtime' order by 1`;
    expect(rows.map((r) => r.tablename)).toEqual(["chat_messages", "chats"]);
  });
});
