// Follows a chat with follow-chat (docs/api.md, "How a chat UI opens a chat"): the browser's
// EventSource, from the revision of the page the view opened on, so nothing is missed or seen twice.
// Every event goes to `onEvent` as client/follow-chat.ts types it: the stored messages, the chat, the
// chunks of the reply in flight, a cut of the history (`reset`) and the queue.
// EventSource resumes by itself after the server ends a stream (Last-Event-ID); an answer it cannot
// resume from (an expired token: 401) closes it, and this opens a new one, with the token as it is now.
import { useEffect, useRef } from "react";
import type { FollowEvent } from "../../../client/follow-chat.ts";
import type { Api } from "./api.ts";

const events = ["message", "chat", "chunk", "reset", "queue"] as const;

export function useFollowChat(api: Api, chatId: string, after: number, onEvent: (event: FollowEvent) => void) {
  const latest = useRef(onEvent);
  latest.current = onEvent;

  useEffect(() => {
    let cursor = String(after);
    let source: EventSource | undefined;
    let reopen: ReturnType<typeof setTimeout> | undefined;
    const open = () => {
      const url = new URL(`${api.functionsUrl}/follow-chat`);
      // EventSource cannot send an Authorization header.
      url.search = new URLSearchParams({ chat_id: chatId, after: cursor, access_token: api.token() }).toString();
      const stream = source = new EventSource(url);
      const read = (event: MessageEvent) => {
        if (event.lastEventId) cursor = event.lastEventId;
        return JSON.parse(event.data);
      };
      for (const name of events) {
        stream.addEventListener(name, (event) => latest.current({ event: name, data: read(event) } as FollowEvent));
      }
      stream.addEventListener("end", (event) => {
        if (read(event).reason === "gone") stream.close(); // deleted, or no longer yours
      });
      stream.addEventListener("error", () => {
        if (stream.readyState === EventSource.CLOSED) reopen = setTimeout(open, 2000);
      });
    };
    open();
    return () => {
      clearTimeout(reopen);
      source?.close();
    };
  }, [api, chatId, after]);
}
