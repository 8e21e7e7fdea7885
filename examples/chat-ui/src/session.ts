// Who is signed in: the user's access token, which every call to the API sends as `Authorization: Bearer`.
// - A hosted project: Supabase Auth, email and password, through supabase-js, which keeps the session
//   (localStorage) and refreshes the token before it expires.
// - The local stack serves no Auth (README, "What the local stack serves"). There, `npm run ui` hands the
//   page a token for the seeded demo user, signed with the stack's JWT secret: a local-development
//   shortcut, which a hosted project never offers.
import { createClient } from "@supabase/supabase-js";
import { useEffect, useMemo, useState } from "react";

/** What the development server says about the API (serve.ts, /config.json). */
export interface Config {
  supabaseUrl: string;
  anonKey: string;
  /** The demo user's token: only against a local stack. */
  demoToken: string | null;
}

/** Remembers, for a reload, that this browser chose the demo user (the token itself comes with the config). */
const demoChoice = "chat-ui:demo-user";

export type Session = ReturnType<typeof useSession>;

export function useSession(config: Config) {
  const auth = useMemo(
    () => (config.demoToken ? null : createClient(config.supabaseUrl, config.anonKey).auth),
    [config],
  );
  const [token, setToken] = useState<string | null>(() =>
    config.demoToken && localStorage.getItem(demoChoice) ? config.demoToken : null
  );

  useEffect(() => {
    if (!auth) return;
    void auth.getSession().then(({ data }) => setToken(data.session?.access_token ?? null));
    const { data } = auth.onAuthStateChange((_event, session) => setToken(session?.access_token ?? null));
    return () => data.subscription.unsubscribe();
  }, [auth]);

  return {
    token,
    /** Null against a local stack: there is no Auth to sign in with. */
    auth,
    signInAsDemoUser() {
      localStorage.setItem(demoChoice, "yes");
      setToken(config.demoToken);
    },
    async signInWithPassword(email: string, password: string) {
      const { error } = await auth!.signInWithPassword({ email, password });
      if (error) throw error;
    },
    async signOut() {
      localStorage.removeItem(demoChoice);
      await auth?.signOut();
      setToken(null);
    },
  };
}
