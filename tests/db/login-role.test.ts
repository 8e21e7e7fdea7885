// The edge functions log in as edge_functions, not postgres: a NOINHERIT role that is a member of
// authenticated and service_role only (what PostgREST's authenticator is). Until a transaction
// switches to one of those, or after it resets the role, the connection can read and write nothing,
// so a path that ever let a user's SQL run `reset role` would gain nothing.
import { beforeAll, describe, expect, it } from "vitest";
import { functionsDatabaseUrl, functionsLogin } from "../../scripts/local-stack/config.ts";
import { connect } from "../../scripts/local-stack/database.ts";
import { useTestDatabase } from "../support/db.ts";
import { makeOwnedTree } from "../support/factories.ts";

const { sql, url } = await useTestDatabase();
const login = connect(functionsDatabaseUrl(url), { max: 1 });
let tree: Awaited<ReturnType<typeof makeOwnedTree>>;
beforeAll(async () => {
  tree = await makeOwnedTree(sql);
  return () => login.end();
});

const tables = ["accounts", "sessions", "chats", "chat_messages", "chat_reads", "workflow_runs", "workflow_run_steps"];
const claims = (sub: string) => JSON.stringify({ sub, role: "authenticated", aud: "authenticated" });
/** The SQLSTATE a statement fails with on the login connection, or "ok". */
const outcome = (text: string) => login.unsafe(text).simple().then(() => "ok", (error) => error.code as string);

it("is a NOINHERIT login without superuser powers, a member of authenticated and service_role only", async () => {
  const [role] = await sql`
    select r.rolcanlogin, r.rolinherit, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
           array(select g.rolname::text from pg_auth_members m join pg_roles g on g.oid = m.roleid
                  where m.member = r.oid order by 1) as member_of
      from pg_roles r where r.rolname = ${functionsLogin.user}`;
  expect(role).toEqual({
    rolcanlogin: true,
    rolinherit: false,
    rolsuper: false,
    rolbypassrls: false,
    rolcreaterole: false,
    rolcreatedb: false,
    member_of: ["authenticated", "service_role"],
  });
  const [{ current_user }] = await login`select current_user`;
  expect(current_user).toBe("edge_functions");
});

describe("without a role switched to", () => {
  it.each(tables)("reading or writing %s is refused", async (table) => {
    expect(await outcome(`select * from public.${table} limit 1`)).toBe("42501");
    expect(await outcome(`delete from public.${table}`)).toBe("42501");
    expect(await outcome(`truncate public.${table}`)).toBe("42501");
  });

  it("the operations cannot be called", async () => {
    expect(await outcome(`select public.append_message('${tree.chat.id}', '{}')`)).toBe("42501");
    expect(await outcome(`select public.mark_read('${tree.chat.id}')`)).toBe("42501");
  });

  it("nothing can be created in public, and no other role can be switched to", async () => {
    expect(await outcome("create table public.mine (id int)")).toBe("42501");
    expect(await outcome("set role postgres")).toBe("42501");
    expect(await outcome("set role anon")).toBe("42501");
  });

  it("a transaction that switched role and then resets it is back to nothing", async () => {
    const code = await outcome(
      `select set_config('role', 'service_role', true); reset role; select count(*) from public.chats`,
    );
    expect(code).toBe("42501");
  });
});

describe("switched to the roles the functions use", () => {
  it("authenticated, with a user's claims, sees that user's rows through RLS", async () => {
    const [, rows] = await login.unsafe(
      `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '${
        claims(tree.accountId)
      }', true); select id from public.chats`,
    ).simple();
    expect(rows.map((r: { id: string }) => r.id)).toEqual([tree.chat.id]);
  });

  it("service_role sees every account's rows and may call log_workflow_step", async () => {
    await makeOwnedTree(sql);
    const [, [{ chats, result }]] = await login.unsafe(
      `select set_config('role', 'service_role', true);
       select (select count(*)::int from public.chats) as chats,
              public.log_workflow_step('login-role-run', '${tree.chat.id}', now()) as result`,
    ).simple();
    expect(chats).toBeGreaterThanOrEqual(2);
    expect(result).toMatchObject({ created: true, run: { id: "login-role-run" } });
  });

  it("set role for the session works as well, and reset role takes it away again", async () => {
    await login`set role service_role`;
    expect((await login`select count(*)::int as n from public.sessions`)[0].n).toBeGreaterThanOrEqual(2);
    await login`reset role`;
    expect(await outcome("select count(*) from public.sessions")).toBe("42501");
  });
});
