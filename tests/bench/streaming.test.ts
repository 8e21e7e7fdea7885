// The storage benchmark's pgbench script (bench/streaming.ts) must send what append-chunks
// sends: once pgbench has put in a client's number and its `from`, the text is callText's, byte for byte.
import { describe, expect, it } from "vitest";
import { callText } from "../../functions/_shared/call-text.ts";
import { appendChunksScript } from "../../bench/streaming.ts";

const claims = { iss: "supabase-demo", role: "service_role", exp: 1983812996 };

/** What pgbench sends for one line of the script, in simple mode, with these variables. */
const substitute = (line: string, variables: Record<string, string>) =>
  line.replace(/:([a-z_]+)/g, (whole, name) => variables[name] ?? whole).replaceAll(" \\; ", "; ").replace(/;$/, "");

describe("appendChunksScript", () => {
  for (const chunksPerCall of [3, 1]) {
    it(`with ${chunksPerCall} chunk(s) a call is append-chunks' call text, then moves from on by ${chunksPerCall}`, () => {
      const [query, step, ...rest] = appendChunksScript("sstore-d0-u3-", "bench-d0", chunksPerCall, claims)
        .split("\n");
      expect(substitute(query, { client_id: "7", from: "5" })).toBe(callText({
        role: "service_role",
        claims,
        fn: "append_chunks",
        args: {
          chat_id: "sstore-d0-u3-7",
          runner_id: "bench-d0",
          message_id: "sstore-d0-u3-7-reply",
          from_index: 5,
          chunks: Array.from({ length: chunksPerCall }, () => ({ type: "text-delta", id: "t", delta: "#5 " })),
        },
        statementTimeout: "5s",
        lockTimeout: "2s",
        announce: false,
      }));
      expect(step).toBe(`\\set from :from + ${chunksPerCall}`);
      expect(rest).toEqual([""]);
    });
  }
});
