-- The API roles keep only the table privileges row level security can govern.
--
-- Supabase's default privileges grant ALL on every new table in public to anon and authenticated,
-- and RLS is what restricts rows. But three of those privileges are not about rows, so RLS never
-- sees them: TRUNCATE empties a table for every account at once (a signed-in user could run
-- `truncate public.workflow_run_steps` over SQL), TRIGGER lets the role attach triggers to the
-- table, and REFERENCES lets it create foreign keys that point at it. No API request needs any of
-- them; the owner (postgres, which runs the migrations) and service_role keep them.
--
-- Revoked on every table that exists now, and from the default privileges, so tables that later
-- migrations create never get them. tests/db/privileges.test.ts checks the catalog for every table
-- in public, so a later migration that grants them back fails CI.

revoke truncate, trigger, references on all tables in schema public from anon, authenticated;

alter default privileges for role postgres in schema public
  revoke truncate, trigger, references on tables from anon, authenticated;
