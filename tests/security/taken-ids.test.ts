// Ids are global primary keys chosen by clients, so an id someone else took cannot be reused: the
// caller gets 409 (SECURITY.md says why that is acceptable). What the 409 must not do is say whose
// the id is: it reads exactly like the 409 for an id the caller itself used elsewhere, or one
// another stranger holds, and carries nothing of the owner's.
import { beforeAll, expect, it } from "vitest";
import { uiMessage } from "../support/factories.ts";
import { type FunctionName, invoke, type Outcome, uid, type UserWithChat, userWithChat } from "../support/functions.ts";

let a: UserWithChat, b: UserWithChat, stranger: UserWithChat;
let bSecondChat: string;
const aMessage = uid("a-msg"), bMessage = uid("b-msg"), secret = `A's secret ${uid("s")}`;

beforeAll(async () => {
  [a, b, stranger] = await Promise.all([userWithChat(), userWithChat(), userWithChat()]);
  await invoke(a.client, "append-message", { chat_id: a.chatId, message: uiMessage(aMessage, "user", secret) });
  await invoke(b.client, "append-message", { chat_id: b.chatId, message: uiMessage(bMessage, "user", "mine") });
  const second = await invoke(b.client, "create-chat", { session: { title: "B's second" } });
  bSecondChat = second.body.chat.id;
});

/** The answer with the id that was sent blanked out: what is left is all it says. */
const shape = ({ status, body }: Outcome<unknown>, id: string) => ({
  status,
  body: JSON.parse(JSON.stringify(body).replaceAll(JSON.stringify(id).slice(1, -1), "<id>")),
});

it("a 409 for another account's id reads exactly like a 409 for an id that is not theirs", async () => {
  // [what, function, body with someone else's id, body with an id taken elsewhere that says nothing about A]
  const cases: [string, FunctionName, () => unknown, string, () => unknown, string][] = [
    [
      "A's chat id, for a chat in B's session / B's own chat id, in B's other session",
      "create-chat",
      () => ({ session_id: b.sessionId, id: a.chatId }),
      a.chatId,
      () => ({ session_id: b.sessionId, id: bSecondChat }),
      bSecondChat,
    ],
    [
      "A's session id, for a new session / a stranger's session id",
      "create-chat",
      () => ({ session: { id: a.sessionId, title: "x" } }),
      a.sessionId,
      () => ({ session: { id: stranger.sessionId, title: "x" } }),
      stranger.sessionId,
    ],
    [
      "A's message id, in B's chat / B's own message id, in B's other chat",
      "append-message",
      () => ({ chat_id: b.chatId, message: uiMessage(aMessage, "user", "x") }),
      aMessage,
      () => ({ chat_id: bSecondChat, message: uiMessage(bMessage, "user", "x") }),
      bMessage,
    ],
  ];
  for (const [what, fn, theirs, theirId, other, otherId] of cases) {
    const toA = await invoke(b.client, fn, theirs());
    const elsewhere = await invoke(b.client, fn, other());
    expect(toA.status, what).toBe(409);
    expect(shape(toA, theirId), what).toEqual(shape(elsewhere, otherId));
    expect(toA.body).toEqual({ error: { code: "conflict", message: expect.any(String) } });
    const said = JSON.stringify(toA.body);
    for (const ofA of [a.accountId, a.sessionId, a.chatId, aMessage, secret, "Test session"]) {
      if (ofA !== theirId) expect(said, what).not.toContain(ofA);
    }
  }
});
