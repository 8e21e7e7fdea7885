// The chat UI (examples/chat-ui) used as a person uses it: headless Chromium (Debian's, no browser is
// downloaded) on the page `npm run ui` serves, against a stack of its own with the example worker
// answering. What a page shows is compared with what get-messages stores.
//
// UPDATE_SCREENSHOTS=1 also writes docs/images/streaming.png, docs/images/chat-list.png and
// docs/images/approval.png.
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getMessagesResponse } from "../../functions/_shared/schemas/mod.ts";
import { demoAccountId, projectRoot, userJwt } from "../../scripts/local-stack/config.ts";
import { freePort, type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { startWorker, until } from "../support/worker.ts";

const screenshots = process.env.UPDATE_SCREENSHOTS ? path.join(projectRoot, "docs/images") : null;

let stack: ThrowawayStack;
let worker: ChildProcess;
let ui: ChildProcess;
let uiUrl: string;
let browser: Browser;
let context: BrowserContext;
let token: string;

/** `npm run ui` against the stack; resolves once it listens. */
async function startUi(): Promise<ChildProcess> {
  const port = await freePort();
  const server = spawn(process.execPath, ["--import", "tsx", "examples/chat-ui/serve.ts"], {
    cwd: projectRoot,
    env: { ...process.env, SUPABASE_URL: stack.apiUrl, UI_PORT: String(port) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on("data", (data: Buffer) => data.toString().includes("chat UI:") && resolve());
    server.once("exit", (code) => reject(new Error(`the UI server exited (${code})`)));
  });
  uiUrl = `http://127.0.0.1:${port}/`;
  return server;
}

beforeAll(async () => {
  stack = await throwawayStack();
  // Slow enough that a page sees the answer grow, reloads mid-answer and stops it.
  worker = startWorker(stack, { MOCK_CHUNK_DELAY_MS: "60" });
  ui = await startUi();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    // Chromium's sandbox refuses to run as root (CI runs as root).
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
  });
  context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  // Every page records each text its answers show, and each list of messages it shows, from its first
  // render on (and again after a reload).
  await context.addInitScript(() => {
    const shown: Record<string, string[]> = {};
    const lists: string[][] = [];
    Object.assign(globalThis, { shownAnswers: shown, shownLists: lists });
    new MutationObserver(() => {
      for (const article of document.querySelectorAll<HTMLElement>("article[data-role=assistant]")) {
        const text = [...article.querySelectorAll(".text")].map((p) => p.textContent).join("");
        const texts = shown[article.dataset.messageId!] ??= [];
        if (texts.at(-1) !== text) texts.push(text);
      }
      const ids = [...document.querySelectorAll<HTMLElement>("article.message:not(.queued)")].map((article) =>
        article.dataset.messageId!
      );
      if (lists.at(-1)?.join() !== ids.join()) lists.push(ids);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  token = await userJwt(demoAccountId);
  if (screenshots) await mkdir(screenshots, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  ui?.kill("SIGTERM");
  worker?.kill("SIGKILL");
  await stack?.stop();
});

const textOf = (message: { parts: { type: string; text?: string }[] }) =>
  message.parts.map((part) => (part.type === "text" ? part.text : "")).join("");

/** What get-messages stores, as the page shows it: id, role and text of each message; and the chat. */
async function stored(chatId: string) {
  const response = await fetch(`${stack.apiUrl}/functions/v1/get-messages?chat_id=${chatId}&limit=200`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  const page = getMessagesResponse.parse(await response.json());
  return {
    chat: page.chat,
    messages: page.messages.map((row) => ({ id: row.id, role: row.role, text: textOf(row.message) })),
  };
}

/** Calls a function as the demo user, as the page does; throws on an error answer. */
async function call(name: string, body: unknown) {
  const response = await fetch(`${stack.apiUrl}/functions/v1/${name}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${name}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** The messages a page shows (queued ones aside): id, role and text. */
const shown = (page: Page) =>
  page.$$eval("article.message:not(.queued)", (articles) =>
    articles.map((article) => ({
      id: (article as HTMLElement).dataset.messageId!,
      role: (article as HTMLElement).dataset.role!,
      text: [...article.querySelectorAll(".text")].map((p) => p.textContent).join(""),
    })));

/** Each text the page showed for an answer, in order. */
const shownAnswer = (page: Page, messageId: string) =>
  page.evaluate(
    (id) => (globalThis as unknown as { shownAnswers: Record<string, string[]> }).shownAnswers[id],
    messageId,
  );

/** Each list of message ids the page showed, in order. */
const shownLists = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { shownLists: string[][] }).shownLists);

/** The texts shown for an answer grew to `final`, each a beginning of it, in more than `renders` renders. */
async function grewTo(page: Page, messageId: string, final: string, renders = 3) {
  const texts = (await shownAnswer(page, messageId)).filter(Boolean);
  expect(texts.length).toBeGreaterThan(renders);
  for (const text of texts) expect(final.startsWith(text), text).toBe(true);
}

const lastAnswer = async (page: Page) => (await shown(page)).findLast((message) => message.role === "assistant");
const chatStatus = (page: Page) => page.locator("[data-chat-status]").getAttribute("data-chat-status");

/** Waits for `check` to hold, polling. */
const eventually = (check: () => Promise<boolean>, timeoutMs = 15_000) =>
  until(check, Boolean, { timeoutMs, everyMs: 50 });

/**
 * Waits until the page shows the chat idle, its last answer complete (ending with `ending`), and the
 * same messages as get-messages.
 */
async function untilSettled(page: Page, chatId: string, ending = "done.") {
  await eventually(async () =>
    (await chatStatus(page)) === "idle" && (await lastAnswer(page))?.text.endsWith(ending) === true
  );
  return untilShownAsStored(page, chatId);
}

/** Waits until the page shows the messages get-messages stores, and returns them. */
async function untilShownAsStored(page: Page, chatId: string) {
  let messages: Awaited<ReturnType<typeof stored>>["messages"] = [];
  await eventually(async () => {
    messages = (await stored(chatId)).messages;
    return JSON.stringify(await shown(page)) === JSON.stringify(messages);
  });
  return messages;
}

async function openPage(hash = ""): Promise<Page> {
  const page = await context.newPage();
  await page.goto(uiUrl + hash);
  const signIn = page.getByRole("button", { name: "Sign in as the demo user" });
  const newChat = page.getByRole("button", { name: "New chat", exact: true });
  await signIn.or(newChat).waitFor();
  if (await signIn.isVisible()) await signIn.click();
  await newChat.waitFor();
  return page;
}

async function newChat(page: Page): Promise<string> {
  const before = page.url();
  await page.getByRole("button", { name: "New chat", exact: true }).click();
  await eventually(() => Promise.resolve(page.url() !== before && page.url().includes("#/chats/")));
  await page.getByLabel("Message").waitFor();
  return decodeURIComponent(page.url().split("#/chats/")[1]);
}

async function send(page: Page, text: string) {
  await page.getByLabel("Message").fill(text);
  await page.getByLabel("Message").press("Enter");
}

describe("the chat UI", () => {
  it("sends with Enter (Shift+Enter is a new line), streams the answer, shows tool calls and queued messages", async () => {
    // A new browser: the sign-in page, which says what its demo sign-in is.
    const page = await context.newPage();
    await page.goto(uiUrl);
    await page.getByText("A local-development shortcut").waitFor();
    await page.getByRole("button", { name: "Sign in as the demo user" }).click();
    const chatId = await newChat(page);

    const box = page.getByLabel("Message");
    await box.fill("first line");
    await box.press("Shift+Enter");
    await box.pressSequentially("second line of a question to answer");
    expect(await box.inputValue()).toBe("first line\nsecond line of a question to answer");
    expect(await shown(page)).toEqual([]);
    await box.press("Enter");
    expect(await box.inputValue()).toBe("");

    await eventually(async () => (await lastAnswer(page))?.text.includes("Answer to") === true);
    const toolCard = page.locator(".tool").first();
    await expect(toolCard.textContent()).resolves.toContain("readFile");
    if (screenshots) await page.screenshot({ path: path.join(screenshots, "streaming.png") });

    const messages = await untilSettled(page, chatId);
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(messages[0].text).toBe("first line\nsecond line of a question to answer");
    expect(messages[1].text).toBe(
      'I read the file. Answer to "first line\nsecond line of a question to answer": done.',
    );
    // The answer grew render by render, each text a beginning of the final one.
    const texts = (await shownAnswer(page, messages[1].id)).filter(Boolean);
    expect(texts.length).toBeGreaterThan(5);
    for (const text of texts) expect(messages[1].text.startsWith(text), text).toBe(true);
    await expect(toolCard.getAttribute("data-state")).resolves.toBe("output-available");
    await expect(toolCard.textContent()).resolves.toContain('"lines": 42');
    // The chat's usage, as the API reports it.
    const { chat } = await stored(chatId);
    await eventually(async () =>
      (await page.locator("[data-total-tokens]").getAttribute("data-total-tokens")) === String(chat.usage?.total_tokens)
    );
    expect(chat.usage?.total_tokens).toBeGreaterThan(0);

    // A message sent while the agent answers waits in the queue, then gets its own answer. (The second
    // question is long enough for its answer to be still streaming when the third is sent.)
    const second = "the second question, with a few more words to answer one by one";
    await send(page, second);
    await eventually(async () => (await lastAnswer(page))?.text.includes('"the second') === true);
    await send(page, "the third question");
    await page.locator("article.queued").waitFor();
    const settled = await untilSettled(page, chatId);
    expect(settled.map((m) => `${m.role}: ${m.text}`).slice(2)).toEqual([
      `user: ${second}`,
      `assistant: I read the file. Answer to "${second}": done.`,
      "user: the third question",
      'assistant: I read the file. Answer to "the third question": done.',
    ]);
    await expect(page.locator("article.queued").count()).resolves.toBe(0);
    // The queued message's answer streamed too: the page picked up the turn that answered it.
    expect((await shownAnswer(page, settled[5].id)).filter(Boolean).length).toBeGreaterThan(3);
    await page.close();
  });

  it("reloaded mid-answer, resumes the answer and shows it once", async () => {
    const page = await openPage();
    const chatId = await newChat(page);
    await send(page, "a long question ".repeat(15).trim());
    await eventually(async () => (await lastAnswer(page))?.text.includes("a long question a long") === true);
    const before = (await stored(chatId)).messages.at(-1)!;
    expect(before.text, "the reload came before the answer was stored whole").not.toMatch(/done\.$/);

    await page.reload();
    const messages = await untilSettled(page, chatId);
    expect(messages.filter((m) => m.role === "assistant")).toHaveLength(1);
    expect((await shown(page)).filter((m) => m.role === "assistant")).toHaveLength(1);
    // After the reload, the answer still arrived as a stream (resumed), not only as the stored message.
    const texts = (await shownAnswer(page, messages[1].id)).filter((text) => text.includes("long"));
    expect(texts.length).toBeGreaterThan(3);
    for (const text of texts) expect(messages[1].text.startsWith(text), text).toBe(true);
    await page.close();
  });

  it("two tabs on one chat: a message sent in one streams in the other; opening a chat clears its unread badge in the other tab's list", async () => {
    const tabA = await openPage();
    const chatId = await newChat(tabA);
    const tabB = await openPage(`#/chats/${chatId}`);
    await tabB.getByLabel("Message").waitFor();

    await send(tabA, "hello from tab A");
    const messages = await untilSettled(tabA, chatId);
    await untilSettled(tabB, chatId);
    expect(messages.map((m) => m.text)).toEqual([
      "hello from tab A",
      'I read the file. Answer to "hello from tab A": done.',
    ]);
    // Tab B saw the answer stream, not only arrive.
    expect((await shownAnswer(tabB, messages[1].id)).filter(Boolean).length).toBeGreaterThan(3);

    // Tab A leaves a chat while its answer streams: the answer ends unread.
    const unreadId = await newChat(tabA);
    await send(tabA, "answer this while nobody looks at it ".repeat(5).trim());
    await eventually(async () => (await lastAnswer(tabA))?.text.includes("I read") === true);
    await newChat(tabA);
    await eventually(async () => (await stored(unreadId)).chat.status === "idle");
    expect((await stored(unreadId)).chat.has_unread).toBe(true);
    const badgeIn = (page: Page) => page.locator(`li[data-chat-id="${unreadId}"] .badge.unread`);
    await badgeIn(tabA).waitFor();
    await badgeIn(tabB).waitFor();
    if (screenshots) await tabB.screenshot({ path: path.join(screenshots, "chat-list.png") });

    // Tab B opens it: read, and tab A's list says so.
    await tabB.locator(`li[data-chat-id="${unreadId}"] button`).click();
    await badgeIn(tabA).waitFor({ state: "detached", timeout: 10_000 });
    expect((await stored(unreadId)).chat.has_unread).toBe(false);
    await tabA.close();
    await tabB.close();
  });

  it("opens a chat on its last page and scrolls back with before_seq", async () => {
    // 35 messages, more than a page, in a chat of a model no worker runs: nothing answers them.
    const { chat } = await call("create-chat", { session: { title: "Long" }, chat: { model_id: "no-worker" } });
    const texts = Array.from({ length: 35 }, (_, i) => `message ${i + 1}`);
    for (const text of texts) {
      await call("append-message", {
        chat_id: chat.id,
        message: { id: crypto.randomUUID(), role: "user", parts: [{ type: "text", text }] },
      });
    }
    const page = await openPage(`#/chats/${chat.id}`);
    await page.locator("article.message").first().waitFor();
    expect((await shown(page)).map((m) => m.text)).toEqual(texts.slice(5));
    await page.getByRole("button", { name: "Load earlier messages" }).click();
    await eventually(async () => (await shown(page)).length === 35);
    expect((await shown(page)).map((m) => m.text)).toEqual(texts);
    await expect(page.getByRole("button", { name: "Load earlier messages" }).count()).resolves.toBe(0);
    await page.close();
  });

  it("Stop keeps the partial answer, and the chat returns to idle", async () => {
    const page = await openPage();
    const chatId = await newChat(page);
    await send(page, "a question to stop ".repeat(15).trim());
    await eventually(async () => (await lastAnswer(page))?.text.includes("a question to stop a") === true);
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    await eventually(async () => (await chatStatus(page)) === "idle");

    const { chat, messages } = await stored(chatId);
    expect(chat.status).toBe("idle");
    const answer = messages.at(-1)!;
    expect(answer.role).toBe("assistant");
    expect(answer.text).toMatch(/^I read the file\. Answer to "a question to stop/);
    expect(answer.text).not.toMatch(/done\.$/);
    await eventually(async () => JSON.stringify(await shown(page)) === JSON.stringify(messages));
    // It stays: nothing replaces or removes it afterwards.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await shown(page)).toEqual(messages);
    await expect(page.getByRole("button", { name: "Stop", exact: true }).count()).resolves.toBe(0);
    await page.close();
  });
});

describe("conversation control in the chat UI", () => {
  const answerTo = (question: string) => `I read the file. Answer to "${question}": done.`;
  const article = (page: Page, messageId: string) => page.locator(`article[data-message-id="${messageId}"]`);

  it("Edit on the first message: the later messages go and a new answer streams; Regenerate then replaces that answer; both tabs show what get-messages stores", async () => {
    const page = await openPage();
    const chatId = await newChat(page);
    await send(page, "the first question");
    await untilSettled(page, chatId, answerTo("the first question"));
    await send(page, "the second question");
    const before = await untilSettled(page, chatId, answerTo("the second question"));
    expect(before).toHaveLength(4);
    await expect(page.getByRole("button", { name: "Edit" }).count()).resolves.toBe(2);
    // Only the last answer offers another.
    await expect(page.getByRole("button", { name: "Regenerate" }).count()).resolves.toBe(1);

    // Another tab on the chat follows: the cut, then the new answer.
    const other = await openPage(`#/chats/${chatId}`);
    await untilShownAsStored(other, chatId);

    const first = article(page, before[0].id);
    await first.getByRole("button", { name: "Edit" }).click();
    const editor = first.getByLabel("Edited message");
    expect(await editor.inputValue()).toBe("the first question");
    const edited = "the first question, edited to ask for a few more words";
    await editor.fill(edited);
    const listsBefore = (await shownLists(page)).length;
    await first.getByRole("button", { name: "Save and ask again" }).click();

    // A new answer to the edited message, not one of the messages cut.
    const cut = before.slice(1).map((m) => m.id);
    await eventually(async () => {
      const answer = await lastAnswer(page);
      return answer !== undefined && !cut.includes(answer.id);
    });
    const after = await untilSettled(page, chatId);
    expect(after.map((m) => `${m.role}: ${m.text}`)).toEqual([`user: ${edited}`, `assistant: ${answerTo(edited)}`]);
    expect(after[0].id).toBe(before[0].id);
    expect((await stored(chatId)).chat.history_version).toBe(1);
    await grewTo(page, after[1].id, after[1].text);
    // Once the cut messages went, none came back, not even for a render.
    const lists = (await shownLists(page)).slice(listsBefore);
    const gone = lists.findIndex((ids) => !ids.some((id) => cut.includes(id)));
    expect(gone).toBeGreaterThanOrEqual(0);
    for (const ids of lists.slice(gone)) expect(ids.filter((id) => cut.includes(id))).toEqual([]);
    expect(await untilShownAsStored(other, chatId)).toEqual(after);
    await grewTo(other, after[1].id, after[1].text);

    // Regenerate: a new answer in place of that one.
    await article(page, after[1].id).getByRole("button", { name: "Regenerate" }).click();
    await eventually(async () => {
      const answer = await lastAnswer(page);
      return answer !== undefined && answer.id !== after[1].id;
    });
    const again = await untilSettled(page, chatId);
    expect(again.map((m) => m.text)).toEqual([edited, answerTo(edited)]);
    expect(again[0].id).toBe(before[0].id);
    expect(again[1].id).not.toBe(after[1].id);
    expect((await stored(chatId)).chat.history_version).toBe(2);
    await grewTo(page, again[1].id, again[1].text);
    expect(await untilShownAsStored(other, chatId)).toEqual(again);
    await grewTo(other, again[1].id, again[1].text);
    await page.close();
    await other.close();
  });

  it("a command waits for approval; Approve runs it and the answer goes on in the same message, in this tab, another and after a reload", async () => {
    const page = await openPage();
    const chatId = await newChat(page);
    // Long, so that its answer (which repeats it twice) is still streaming when the page reloads.
    const command = "npm test -- --run every test of the project, one after the other, and print what each one says";
    await send(page, `please run: ${command}`);
    const card = page.locator(".tool").first();
    await eventually(async () =>
      (await card.getAttribute("data-state")) === "approval-requested" && (await chatStatus(page)) === "waiting"
    );
    await page.locator("header [data-status=waiting]", { hasText: "waiting for approval" }).waitFor();
    await page.locator(`li[data-chat-id="${chatId}"] [data-status=waiting]`).waitFor();
    // Waiting is the user's turn: nothing to stop, and an answer to finish before asking for another.
    await expect(page.getByRole("button", { name: "Stop", exact: true }).count()).resolves.toBe(0);
    await expect(page.getByRole("button", { name: "Regenerate" }).count()).resolves.toBe(0);
    const asked = await untilShownAsStored(page, chatId);
    expect(asked.map((m) => m.role)).toEqual(["user", "assistant"]);
    const answerId = asked[1].id;
    if (screenshots) await page.screenshot({ path: path.join(screenshots, "approval.png") });
    // Another tab on the chat: the answer goes on there too, though it did not approve.
    const other = await openPage(`#/chats/${chatId}`);
    await other.locator(".tool[data-state=approval-requested]").waitFor();

    await card.getByRole("button", { name: "Approve" }).click();
    await eventually(async () => (await card.getAttribute("data-state")) === "output-available");
    expect(await card.textContent()).toContain('"exitCode": 0');
    expect(await card.textContent()).toContain(`(sandbox) ${command}: ok`);
    // The words follow in the same message: still one answer.
    await eventually(async () => (await lastAnswer(page))?.text.startsWith("I ran") === true);
    expect((await shown(page)).map((m) => m.id)).toEqual([asked[0].id, answerId]);

    // Reloaded mid-answer, the page shows the answer once, going on from the approved call.
    expect((await stored(chatId)).messages[1].text, "the reload came before the answer was stored whole").not
      .toMatch(/: ok$/);
    await page.reload();
    const final = `I ran ${command} and it printed: (sandbox) ${command}: ok`;
    const messages = await untilSettled(page, chatId, ": ok");
    await untilSettled(other, chatId, ": ok");
    expect(messages.map((m) => `${m.role}: ${m.text}`)).toEqual([
      `user: please run: ${command}`,
      `assistant: ${final}`,
    ]);
    expect(messages[1].id).toBe(answerId);
    await expect(page.locator(".tool").getAttribute("data-state")).resolves.toBe("output-available");
    await grewTo(other, answerId, final);
    const afterReload = (await shownAnswer(page, answerId)).filter((text) => text.startsWith("I ran"));
    expect(afterReload.length, "after the reload, the answer still streamed").toBeGreaterThan(1);
    for (const text of afterReload) expect(final.startsWith(text), text).toBe(true);
    await expect(page.getByRole("alert").count()).resolves.toBe(0);
    await expect(other.getByRole("alert").count()).resolves.toBe(0);
    await page.close();
    await other.close();
  });

  it("Deny with a reason: the agent says so without running it; a message sent while it waits denies and is answered", async () => {
    const page = await openPage();
    const chatId = await newChat(page);
    await send(page, "please run: rm -rf build");
    const card = page.locator(".tool").first();
    await card.getByRole("button", { name: "Deny" }).waitFor();
    await card.getByLabel("Reason to deny").fill("not on the main branch");
    await card.getByRole("button", { name: "Deny" }).click();
    const messages = await untilSettled(page, chatId, "not on the main branch.");
    expect(messages.map((m) => `${m.role}: ${m.text}`)).toEqual([
      "user: please run: rm -rf build",
      "assistant: I did not run the command: not on the main branch.",
    ]);
    await expect(card.getAttribute("data-state")).resolves.toBe("output-denied");
    expect(await card.textContent()).toContain("denied: not on the main branch");
    expect(await card.textContent()).not.toContain("output:");

    // Waiting again; a new message is not queued: it denies the open approval and gets the answer.
    await send(page, "please run: ls");
    const second = page.locator(".tool").nth(1);
    await eventually(async () => (await chatStatus(page)) === "waiting");
    await second.getByRole("button", { name: "Approve" }).waitFor();
    await send(page, "never mind, just read the README");
    await eventually(async () => (await shown(page)).at(-1)?.text === "never mind, just read the README");
    await expect(page.locator("article.queued").count()).resolves.toBe(0);
    const settled = await untilSettled(page, chatId);
    expect(settled.map((m) => `${m.role}: ${m.text}`).slice(2)).toEqual([
      "user: please run: ls",
      "assistant: ",
      "user: never mind, just read the README",
      `assistant: ${answerTo("never mind, just read the README")}`,
    ]);
    await expect(second.getAttribute("data-state")).resolves.toBe("output-denied");
    expect(await second.textContent()).toContain("superseded");
    await page.close();
  });

  it("queued messages: Send next puts one first, Delete takes one back", async () => {
    const page = await openPage();
    const chatId = await newChat(page);
    await send(page, "a long question to keep the agent busy for a while ".repeat(4).trim());
    await eventually(async () => (await lastAnswer(page))?.text.includes("I read") === true);
    await send(page, "the second question");
    await send(page, "the third question");
    const queued = () => page.locator("article.queued .text").allTextContents();
    await eventually(async () => (await queued()).length === 2);
    expect(await queued()).toEqual(["the second question", "the third question"]);
    await expect(page.locator("article.queued").first().getByRole("button", { name: "Send next" }).count()).resolves
      .toBe(0);

    await page.locator("article.queued", { hasText: "the third question" }).getByRole("button", { name: "Send next" })
      .click();
    await eventually(async () => (await queued()).join("|") === "the third question|the second question");
    await page.locator("article.queued", { hasText: "the second question" }).getByRole("button", { name: "Delete" })
      .click();
    await eventually(async () => (await queued()).join("|") === "the third question");
    const messages = await untilSettled(page, chatId, answerTo("the third question"));
    expect(messages.slice(2).map((m) => m.text)).toEqual(["the third question", answerTo("the third question")]);
    await expect(page.locator("article.queued").count()).resolves.toBe(0);
    await page.close();
  });
});
