// The chat UI's entry point: read where the API is (serve.ts), then render.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.tsx";
import type { Config } from "./session.ts";

const config: Config = await fetch("/config.json").then((response) => response.json());
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App config={config} />
  </StrictMode>,
);
