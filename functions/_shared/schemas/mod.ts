// Request and response bodies of every function, as zod schemas, one file per domain. Functions and
// clients import from here; row shapes come from the generated types/database.ts (rows.ts checks them).
export * from "./json.ts";
export * from "./rows.ts";
export * from "./messages.ts";
export * from "./reads.ts";
export * from "./chats.ts";
export * from "./runs.ts";
export * from "./usage.ts";
export * from "./context.ts";
export * from "./streams.ts";
export * from "./conversation.ts";
