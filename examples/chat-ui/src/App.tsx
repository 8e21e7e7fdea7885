// The page: sign-in, then the chat list beside the open chat. The open chat's id is the URL's hash
// (#/chats/<id>), so a reload or a second tab opens the same chat.
import { useEffect, useMemo, useRef, useState } from "react";
import { type Api, createApi, type CreateChatResponse } from "./api.ts";
import { ChatList, useChatList } from "./ChatList.tsx";
import { ChatView } from "./ChatView.tsx";
import { type Config, type Session, useSession } from "./session.ts";
import { SignIn } from "./SignIn.tsx";

export function App({ config }: { config: Config }) {
  const session = useSession(config);
  // One Api for the whole signed-in time; it reads the token as it is at each call.
  const token = useRef(session.token);
  token.current = session.token;
  const api = useMemo(() => createApi(config.supabaseUrl, () => token.current ?? ""), [config]);

  if (!session.token) return <SignIn session={session} />;
  return <Chats api={api} session={session} />;
}

const chatIdOf = (hash: string) => /^#\/chats\/(.+)$/.exec(hash)?.[1];

function useOpenChat(): [string | null, (chatId: string) => void] {
  const [openId, setOpenId] = useState(() => chatIdOf(location.hash) ?? null);
  useEffect(() => {
    const onHashChange = () => setOpenId(chatIdOf(location.hash) ?? null);
    addEventListener("hashchange", onHashChange);
    return () => removeEventListener("hashchange", onHashChange);
  }, []);
  return [openId && decodeURIComponent(openId), (chatId) => (location.hash = `#/chats/${encodeURIComponent(chatId)}`)];
}

function Chats({ api, session }: { api: Api; session: Session }) {
  const list = useChatList(api);
  const [openId, open] = useOpenChat();
  const [failure, setFailure] = useState<string | null>(null);

  /** A new session with its first chat, in one call; the chat takes its title from the first message. */
  async function newChat() {
    try {
      const created = await api.post<CreateChatResponse>("create-chat", {
        session: { title: `Session of ${new Date().toLocaleString()}` },
      });
      open(created.chat.id);
      await list.refresh();
    } catch (error) {
      setFailure((error as Error).message);
    }
  }

  return (
    <div className="layout">
      <aside>
        <button type="button" onClick={newChat}>New chat</button>
        {failure ? <p role="alert">{failure}</p> : null}
        <ChatList list={list} openId={openId} onOpen={open} />
        <button type="button" onClick={session.signOut}>Sign out</button>
      </aside>
      <main>
        {openId
          ? <ChatView key={openId} api={api} chatId={openId} onChat={list.update} />
          : <p className="notice">Open a chat, or start a new one.</p>}
      </main>
    </div>
  );
}
