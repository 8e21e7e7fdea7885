// The operations' SQL functions, called the way a Supabase REST client's .rpc() would call them.
import { beforeAll, describe, expect, it } from "vitest";
import { asAnon, asServiceRole, asUser, useTestDatabase } from "../support/db.ts";
import { makeOwnedTree } from "../support/factories.ts";

const { sql } = await useTestDatabase();
let tree: Awaited<ReturnType<typeof makeOwnedTree>>;
beforeAll(async () => {
  tree = await makeOwnedTree(sql);
});

describe("who may call", () => {
  it("anon may execute none of them", async () => {
    const e = await asAnon(sql, (tx) => tx`select public.mark_read(${tree.chat.id})`).catch((e) => e);
    expect(e.code).toBe("42501");
    const e2 = await asAnon(sql, (tx) => tx`select public.append_message('c', '{}')`).catch((e) => e);
    expect(e2.code).toBe("42501");
  });

  it("a signed-in user may not execute log_workflow_step; the service role may", async () => {
    const e = await asUser(
      sql,
      tree.accountId,
      (tx) => tx`select public.log_workflow_step('r', ${tree.chat.id}, now())`,
    ).catch((e) => e);
    expect(e.code).toBe("42501");
    const [{ result }] = await asServiceRole(
      sql,
      (tx) => tx`select public.log_workflow_step('r-ok', ${tree.chat.id}, now()) as result`,
    );
    expect(result).toMatchObject({ created: true, run: { status: "running" } });
  });
});

describe("errors carry PostgREST's PTxxx statuses", () => {
  it("PT404 for a chat the caller cannot see, PT409 for a taken id, PT400 for a missing account", async () => {
    const stranger = crypto.randomUUID();
    const notFound = await asUser(
      sql,
      stranger,
      (tx) => tx`select public.append_message(${tree.chat.id}, ${tx.json({ id: "x", role: "user", parts: [] })})`,
    )
      .catch((e) => e);
    expect(notFound.code).toBe("PT404");
    const taken = await asUser(
      sql,
      tree.accountId,
      (tx) =>
        tx`select public.append_message(${tree.chat.id}, ${
          tx.json({ id: tree.message.id, role: "assistant", parts: [] })
        })`,
    ).catch((e) => e);
    expect(taken.code).toBe("PT409");
    const noAccount = await asServiceRole(sql, (tx) => tx`select public.mark_read(${tree.chat.id})`).catch((e) => e);
    expect(noAccount.code).toBe("PT400");
  });
});

describe("private.title_from_message", () => {
  it.each([
    [{ parts: [{ type: "text", text: "  Fix\n\nthe   bug " }] }, "Fix the bug"],
    [{ parts: [{ type: "text", text: "a" }, { type: "file", url: "x" }, { type: "text", text: "b" }] }, "a b"],
    [{ parts: [{ type: "text", text: "é".repeat(81) }] }, "é".repeat(80) + "…"],
    [{ parts: [{ type: "file", url: "x" }] }, null],
    [{ parts: "nope" }, null],
  ])("%j -> %j", async (message, title) => {
    const [row] = await sql`select private.title_from_message(${sql.json(message)}) as title`;
    expect(row.title).toBe(title);
  });
});

describe("log_workflow_step durations", () => {
  it("a run of 30 days finishes, its step and total durations in milliseconds past 2^31", async () => {
    const started = new Date("2026-10-01T00:00:00Z"), finished = new Date("2026-10-31T00:00:00.250Z");
    const thirtyDays = 30 * 24 * 3600 * 1000 + 250; // 2,592,000,250 ms; an integer column stops at 2,147,483,647
    const steps = [{ step_number: 1, started_at: started, finished_at: finished, finish_reason: "stop" }];
    const [{ result }] = await asServiceRole(sql, (tx) =>
      tx`select public.log_workflow_step(
           'month-long-run', ${tree.chat.id}, ${started}, steps => ${tx.json(steps)},
           finish_status => 'completed', finished_at => ${finished}) as result`);
    expect(result).toMatchObject({
      created: true,
      steps: [{ step_number: 1, recorded: true }],
      run: { status: "completed", total_duration_ms: thirtyDays },
    });
    const [step] = await sql`
      select duration_ms from workflow_run_steps where workflow_run_id = 'month-long-run'`;
    expect(Number(step.duration_ms)).toBe(thirtyDays);
  });
});
