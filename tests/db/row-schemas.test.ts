// The row schemas the API's answers are parsed with (functions/_shared/schemas/mod.ts) name exactly the
// columns of their tables, in the database as the migrations build it: a column added or dropped by a
// migration fails here until the schema follows.
import { expect, it } from "vitest";
import { rowSchemas } from "../../functions/_shared/schemas/mod.ts";
import { useTestDatabase } from "../support/db.ts";

const { sql } = await useTestDatabase();

it("each row schema has exactly its table's columns", async () => {
  for (const [table, schema] of Object.entries(rowSchemas)) {
    const columns = await sql`
      select column_name from information_schema.columns
       where table_schema = 'public' and table_name = ${table} order by column_name`;
    expect(Object.keys(schema.shape).sort(), table).toEqual(columns.map((c) => c.column_name));
  }
});
