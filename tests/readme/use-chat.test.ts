// The useChat component of docs/streaming.md, run as written: React renders it (react-test-renderer:
// the real hooks and effects, no DOM), and its useChat talks through the AI SDK's DefaultChatTransport
// to a stack of its own with the example worker answering. The answer arrives in many renders, equals
// what is stored, resumes after a remount mid-answer (resume: true) without showing twice, and the
// component's stop button stops the agent.
import { mkdir, rm, writeFile } from "node:fs/promises";
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createElement, type FunctionComponent } from "react";
import { act, create, type ReactTestRenderer } from "react-test-renderer";
import { afterAll, beforeAll, expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { startWorker, until } from "../support/worker.ts";
import { clientWith, invoke, uid, userJwt } from "../support/functions.ts";

const componentDir = path.join(projectRoot, ".readme-components");
let stack: ThrowawayStack;
let worker: ChildProcess;
let Chat: FunctionComponent<{ chatId: string; token: string; history: unknown[] }>;

beforeAll(async () => {
  stack = await throwawayStack();
  worker = startWorker(stack, { MOCK_CHUNK_DELAY_MS: "40" });
  // The component exactly as the document shows it, pointed at this stack.
  const markdown = readFileSync(path.join(projectRoot, "docs/streaming.md"), "utf8");
  const source = /```tsx\n([\s\S]*?)```/.exec(markdown)![1];
  expect(source).toContain('const functions = "http://127.0.0.1:54321/functions/v1";');
  await mkdir(componentDir, { recursive: true });
  const file = path.join(componentDir, `chat-${process.pid}.tsx`);
  await writeFile(file, source.replace("http://127.0.0.1:54321", stack.apiUrl));
  ({ Chat } = await import(file));
  // Updates arrive from the network, outside act(): let React apply them as a browser would.
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
});
afterAll(async () => {
  worker?.kill("SIGKILL");
  await stack?.stop();
  await rm(componentDir, { recursive: true, force: true });
});

/** The rendered messages, as the component prints them: "role: text". */
const shown = (renderer: ReactTestRenderer) =>
  renderer.root.findAllByType("p").map((p) => p.children.flat(Infinity).join(""));

/** Waits until `check` holds (the component re-renders as the answer streams in). */
const whenTrue = (check: () => boolean | Promise<boolean>) => until(check, Boolean, { timeoutMs: 15_000 });

async function newChat() {
  const token = await userJwt(crypto.randomUUID());
  const client = clientWith(token, stack.apiUrl);
  const chatId = uid("chat");
  await invoke(client, "create-chat", { session: { title: "useChat" }, chat: { id: chatId } });
  const stored = async () => {
    const { data } = await client.functions.invoke(`get-messages?chat_id=${chatId}`, { method: "GET" });
    return data as {
      chat: { status: string };
      messages: { role: string; message: { id: string; parts: { type: string; text?: string }[] } }[];
    };
  };
  return { token, chatId, stored };
}

const textOf = (message: { parts: { type: string; text?: string }[] }) =>
  message.parts.map((part) => (part.type === "text" ? part.text : "")).join("");

/** Renders the component, its effects run (resume: true reconnects on mount). */
async function mount(props: { chatId: string; token: string; history: unknown[] }): Promise<ReactTestRenderer> {
  let renderer!: ReactTestRenderer;
  await act(() => {
    renderer = create(createElement(Chat, props));
  });
  return renderer;
}

async function send(renderer: ReactTestRenderer, text: string) {
  await act(() => renderer.root.findByType("input").props.onChange({ target: { value: text } }));
  await act(() => renderer.root.findByType("form").props.onSubmit({ preventDefault() {} }));
}

it("sends a message and shows the answer growing, render by render, to what get-messages stores", async () => {
  const chat = await newChat();
  const renderer = await mount({ chatId: chat.chatId, token: chat.token, history: [] });
  await send(renderer, "words to repeat back one by one");
  const seen = new Set<string>();
  await whenTrue(async () => {
    const last = shown(renderer).at(-1) ?? "";
    if (last.startsWith("assistant:")) seen.add(last);
    return last.endsWith("done.") && (await chat.stored()).chat.status === "idle";
  });
  expect(seen.size).toBeGreaterThan(5);
  const { messages } = await chat.stored();
  expect(shown(renderer)).toEqual(messages.map((m) => `${m.role}: ${textOf(m.message)}`));
  renderer.unmount();
});

it("remounted mid-answer (a reload), it resumes the answer and shows it once; Stop stops the agent", async () => {
  const chat = await newChat();
  let renderer = await mount({ chatId: chat.chatId, token: chat.token, history: [] });
  await send(renderer, "a long question ".repeat(10));
  await whenTrue(() => (shown(renderer).at(-1) ?? "").startsWith("assistant: I read the file."));
  renderer.unmount();

  // The page again, with the history get-messages gives it then.
  const history = (await chat.stored()).messages.map((m) => m.message);
  expect(textOf(history.at(-1)!), "the page reloaded before the answer was stored whole").not.toMatch(/done\.$/);
  renderer = await mount({ chatId: chat.chatId, token: chat.token, history });
  await whenTrue(async () =>
    (shown(renderer).at(-1) ?? "").endsWith("done.") && (await chat.stored()).chat.status === "idle"
  );
  const { messages } = await chat.stored();
  expect(shown(renderer)).toEqual(messages.map((m) => `${m.role}: ${textOf(m.message)}`));
  expect(shown(renderer).filter((line) => line.startsWith("assistant:"))).toHaveLength(1);

  // Once more, stopped by the component's button while the answer streams.
  await send(renderer, "another long question ".repeat(10));
  await whenTrue(() => renderer.root.findAllByType("button").length === 1 && shown(renderer).length === 4);
  await act(() => renderer.root.findByType("button").props.onClick());
  await whenTrue(async () => (await chat.stored()).chat.status === "idle");
  const [run] = await stack
    .sql`select status from workflow_runs where chat_id = ${chat.chatId} order by started_at desc limit 1`;
  expect(run.status).toBe("aborted");
  renderer.unmount();
});
