// The sign-in page: the demo user against a local stack, email and password against a hosted project.
import { useState } from "react";
import type { Session } from "./session.ts";

export function SignIn({ session }: { session: Session }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [failure, setFailure] = useState<string | null>(null);

  if (!session.auth) {
    return (
      <section className="sign-in">
        <h1>Agent chats</h1>
        <button type="button" onClick={session.signInAsDemoUser}>Sign in as the demo user</button>
        <p className="notice">
          A local-development shortcut: the local stack has no Auth, so <code>npm run ui</code>{" "}
          hands this page a token for the seeded demo user, signed with the stack's JWT secret. Against a hosted project
          (SUPABASE_URL and SUPABASE_ANON_KEY), this page asks for an email and a password instead.
        </p>
      </section>
    );
  }
  return (
    <section className="sign-in">
      <h1>Agent chats</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          setFailure(null);
          session.signInWithPassword(email, password).catch((error: Error) => setFailure(error.message));
        }}
      >
        <input type="email" placeholder="Email" value={email} onChange={(e) => setEmail(e.target.value)} />
        <input
          type="password"
          placeholder="Password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button type="submit">Sign in</button>
        {failure ? <p role="alert">{failure}</p> : null}
      </form>
    </section>
  );
}
