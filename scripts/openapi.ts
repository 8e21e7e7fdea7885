// npm run gen:openapi: docs/api/openapi.json, an OpenAPI 3.1 document of every edge function, and docs/api/README.md,
// the reference rendered from it. Requests and answers are the zod schemas the functions parse with, converted by zod's
// z.toJSONSchema; what a schema cannot say (who may call, the statuses, the error codes, what a stream sends) is in the
// catalog below. tests/functions/openapi.test.ts fails until this is run after a schema changes; never edit the output.
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import {
  appendMessageRequest,
  appendMessageResponse,
  archiveChatRequest,
  archiveChatResponse,
  claimChatsRequest,
  claimChatsResponse,
  createChatInSessionRequest,
  createChatResponse,
  createSessionWithChatRequest,
  followChatQuery,
  getContextQuery,
  getContextResponse,
  getMessagesQuery,
  getMessagesResponse,
  heartbeatRequest,
  heartbeatResponse,
  listChatsQuery,
  listChatsResponse,
  listSessionsQuery,
  listSessionsResponse,
  logWorkflowStepRequest,
  logWorkflowStepResponse,
  markReadRequest,
  markReadResponse,
  pinContextRequest,
  pinContextResponse,
  pushContextRequest,
  pushContextResponse,
  setBudgetRequest,
  setBudgetResponse,
  stopChatRequest,
  stopChatResponse,
  usageQuery,
  usageResponse,
} from "../functions/_shared/schemas/mod.ts";
import {
  appendChunksRequest,
  appendChunksResponse,
  chatRequest,
  chatStreamQuery,
  deleteQueuedMessageResponse,
  editMessageRequest,
  editMessageResponse,
  promoteQueuedMessageResponse,
  queuedMessageRequest,
  regenerateRequest,
  regenerateResponse,
  respondToApprovalRequest,
  respondToApprovalResponse,
} from "../functions/_shared/schemas/mod.ts";
import { projectRoot } from "./local-stack/config.ts";
import { fieldDocs } from "./openapi/field-docs.ts";
import { renderReadme } from "./openapi/readme.ts";

/** Who may call: every function takes a user's token unless it is for the backend only (operation.ts). */
type Auth = "service_role" | "either";

interface Operation {
  method: "GET" | "POST";
  /** Default: /functions/v1/<function>. */
  path?: string;
  summary: string;
  /** What one line cannot say: how a body picks its shape, what a stream sends. */
  description?: string;
  auth: Auth;
  /** POST: the JSON body. GET: the query-string parameters, and those in the path. */
  request: z.ZodType;
  /** The body of a 2xx answer; a stream's events are in `description`. */
  response: z.ZodType | "text/event-stream";
  /** Each 2xx status the function answers, and when. */
  answers: Record<number, string>;
  /** Error statuses of its own, with their codes; those every function shares are added (`commonErrors`). */
  errors?: Record<number, string>;
}

const notFound = (what: string) => `\`not_found\`: ${what} does not exist, or is not the caller's`;
const forOthers = "`forbidden`: a user's token naming another account in `account_id`";
const serviceRoleNamesAccount = "`invalid_request`: the service role sent no `account_id`";
const tooManyStreams = "`too_many_streams`: the account already holds FOLLOW_MAX_STREAMS_PER_ACCOUNT open streams here";

/** Every function, by its folder name under functions/: its operations (the chat endpoint has two). */
export const catalog: Record<string, Operation | Operation[]> = {
  "append-chunks": {
    method: "POST",
    summary: "The worker holding a chat forwards a batch of the assistant message's UI message stream.",
    description: "A retried batch gets the same answer. `stop: true`: the user pressed stop; abort the turn now.",
    auth: "service_role",
    request: appendChunksRequest,
    response: appendChunksResponse,
    answers: { 200: "the batch is stored (or was already)" },
    errors: {
      400:
        '`invalid_stream_start`: a new stream does not begin with its start chunk (`{ type: "start", messageId }`); ' +
        "`invalid_request` also for a start chunk after the first, or a finish or abort chunk before the batch's last",
      404: notFound("the chat"),
      409:
        "`chunk_gap`, `chunk_conflict`: resend from `details.next`; `not_held`: the runner no longer holds the chat; " +
        "`stream_closed`: the stream ended with a finish or abort chunk; `conflict`: the message id is another chat's",
    },
  },
  "append-message": {
    method: "POST",
    summary: "Appends a UIMessage to a chat: a user message once (a retry returns it), an assistant message in place.",
    description: "A user message to a chat the agent is working on waits in its queue (202); with `interrupt: true` " +
      "at its front, and the agent's turn is stopped (its partial answer kept) so that it is answered next. A user " +
      "message to a chat waiting for a tool approval denies it (superseded). A worker names its `runner_id`: then the " +
      "chat must still be held by it. An assistant message the agent wrote is not the owner's to rewrite.",
    auth: "either",
    request: appendMessageRequest,
    response: appendMessageResponse,
    answers: {
      200: "not new: a retried user message, or an assistant message rewritten",
      201: "the message is new",
      202: "queued: the agent is working on the chat; the message enters the history when its turn ends",
    },
    errors: {
      402: "`budget_exceeded`: a user message of an account at or over its monthly budget (`details`: the limit and " +
        "the amount used)",
      404: notFound("the chat"),
      403: "`written_by_agent`: the owner rewriting an assistant message the agent wrote",
      409: "`not_held`: the runner no longer holds the chat; `conflict`: the message id is used by another chat or " +
        "role; `message_cut`: the id is a message's that an edit or regenerate cut",
      429: "`queue_full`: the chat already has 20 queued messages",
    },
  },
  "archive-chat": {
    method: "POST",
    summary: "Archives a chat (list-chats leaves it out, retention purges it once idle) or restores it.",
    auth: "either",
    request: archiveChatRequest,
    response: archiveChatResponse,
    answers: { 200: "the chat as list-chats shows it" },
    errors: { 404: notFound("the chat") },
  },
  chat: [
    {
      method: "POST",
      summary: "The AI SDK's useChat endpoint: sends, edits or regenerates, answers approvals; streams the reply.",
      description:
        "What DefaultChatTransport posts. `submit-message`: the last of `messages`, a new user message, is " +
        "appended like append-message does (idempotent by its id; queued while the agent is busy); with `messageId` " +
        "naming that user message, already sent, it is an edit (as edit-message); the agent's message posted back with " +
        "tool approvals answered (useChat's addToolApprovalResponse) records the answers (as respond-to-approval; any " +
        "other change is 400 `only_approvals`). `regenerate-message`: a new answer replacing `messageId` (as " +
        "regenerate). The answer is the AI SDK's " +
        "UI message stream of the reply as the worker produces it: `text/event-stream` with header " +
        "`x-vercel-ai-ui-message-stream: v1`, one `data: <chunk JSON>` frame per chunk from the reply's start chunk, " +
        "and `data: [DONE]` at the end. The stream also ends after FOLLOW_MAX_SECONDS: the client resumes with " +
        "GET /functions/v1/chat/{chat_id}/stream. Errors before the stream starts are JSON.",
      auth: "either",
      request: chatRequest,
      response: "text/event-stream",
      answers: { 200: "the UI message stream of the assistant's reply" },
      errors: {
        400: "`only_approvals`: the agent's message posted back with more changed than tool approvals; " +
          "`not_a_user_message`, `nothing_to_regenerate` as edit-message and regenerate",
        403: "`written_by_agent`: as append-message",
        402: "`budget_exceeded`: the account is at or over its monthly budget",
        404: notFound("the chat"),
        409: "`conflict`: the message id is used by another chat or role; `message_cut`, `already_answered`, " +
          "`not_waiting` as edit-message and respond-to-approval",
        413: "the limit here is 16 MiB",
        429: `\`queue_full\`: the chat already has 20 queued messages; ${tooManyStreams}`,
      },
    },
    {
      method: "GET",
      path: "/functions/v1/chat/{chat_id}/stream",
      summary: "useChat's resume: the reply being generated, from its start chunk, then live until it ends.",
      description: "The same UI message stream as POST /functions/v1/chat answers with, for the turn in flight; " +
        "204 when there is none. Errors before the stream starts are JSON.",
      auth: "either",
      request: chatStreamQuery,
      response: "text/event-stream",
      answers: {
        200: "the UI message stream of the reply in flight",
        204: "no turn is in flight: nothing to resume",
      },
      errors: { 404: notFound("the chat"), 429: tooManyStreams },
    },
  ],
  "claim-chats": {
    method: "POST",
    summary: "Hands a worker the oldest pending chats, each held by a new workflow run (after recovering stale ones).",
    description: "Chats whose worker stopped heartbeating go back to pending first; `claims` is empty when there is " +
      "nothing to do.",
    auth: "service_role",
    request: claimChatsRequest,
    response: claimChatsResponse,
    answers: { 200: "the chats this runner now holds" },
    errors: { 400: "`invalid_limit`: limit is not 1..20" },
  },
  "create-chat": {
    method: "POST",
    summary: "Creates a chat in a session the caller owns, or a new session and its first chat in one transaction.",
    description: "The body has exactly one of `session_id` (a chat in an existing session) and `session` (a new " +
      "session with its first chat). Retrying the same chat id in the same session returns the existing chat.",
    auth: "either",
    // createChatRequest picks one of these by key in a transform over any value, which JSON Schema sees as `{}`.
    request: z.union([
      createSessionWithChatRequest.meta({ title: "a new session and its first chat" }),
      createChatInSessionRequest.meta({ title: "a chat in an existing session" }),
    ]),
    response: createChatResponse,
    answers: { 200: "a retry: the chat that id already names", 201: "the chat (and session) are new" },
    errors: {
      400: serviceRoleNamesAccount + " for a new session",
      403: forOthers,
      404: notFound("the session"),
      409: "`conflict`: the chat or session id is already taken by another session or account",
    },
  },
  "follow-chat": {
    method: "GET",
    summary: "Follows a chat live: a resumable event stream of its messages, its state and the reply being generated.",
    description: "A `text/event-stream`: every message changed after the cursor (`event: message`, data: the message " +
      "as get-messages shows it), then the chat (`event: chat`, data: the chat as list-chats shows it), the chunks " +
      "of the assistant message being generated (`event: chunk`, data: `{ message_id, index, chunk }`, and with " +
      "index 0 `continues`: the stored message a reply adds to after a tool approval), the queue (`event: queue`, " +
      "data: `{ queued }`), each cut of the history (`event: reset`, data: `{ history_version, from_seq }`: drop the " +
      "messages from `from_seq` on and any live reply; the new history follows), then each " +
      "change as it commits. Every event carries an `id:`; a client that reconnects with the last one it saw " +
      "(the Last-Event-ID header, which wins, or `after`) gets every later event, none twice. A `: ping` comment " +
      "every 15 s; after FOLLOW_MAX_SECONDS an `event: end` with `{ reason, revision, cursor }`, then the stream " +
      "closes: reconnect from `cursor`. Errors before the stream starts are JSON. The format in full: docs/api.md, " +
      "follow-chat.",
    auth: "either",
    request: followChatQuery,
    response: "text/event-stream",
    answers: { 200: "the chat's event stream" },
    errors: {
      400: "`cursor_ahead`: the cursor is past the chat's revision (follow again without one); an `after` or " +
        "Last-Event-ID that is not an id this stream sent",
      404: notFound("the chat"),
      429: tooManyStreams,
    },
  },
  "get-context": {
    method: "GET",
    summary: "A chat's pinned context resources with their bodies, and what changed in the session's live view since.",
    auth: "either",
    request: getContextQuery,
    response: getContextResponse,
    answers: { 200: "the pins and the changes, compared by content hash" },
    errors: { 404: notFound("the chat") },
  },
  "get-messages": {
    method: "GET",
    summary: "A page of a chat's messages, ascending by seq: the newest, or those after or before a seq.",
    description: "Of the visible history, or of an earlier version (`history_version`: before an edit or a " +
      "regenerate cut it). With the chat, its queue, and the reply in flight with the message it continues.",
    auth: "either",
    request: getMessagesQuery,
    response: getMessagesResponse,
    answers: { 200: "the page, the chat and whether more exist" },
    errors: {
      400: "`invalid_limit`: limit is not 1..200; `invalid_history_version`: not 0 up to the chat's",
      404: notFound("the chat"),
    },
  },
  heartbeat: {
    method: "POST",
    summary: "Refreshes the lease of the chats a runner still holds, and says which the user asked to stop.",
    description: "A chat missing from `held` was recovered by another worker: drop it.",
    auth: "service_role",
    request: heartbeatRequest,
    response: heartbeatResponse,
    answers: { 200: "the chats still held, and those to stop" },
  },
  "list-chats": {
    method: "GET",
    summary: "The caller's chats (all sessions, or one), newest activity first, with revision and has_unread.",
    description: "Archived chats only with `include_archived`. `next_cursor` fetches the next page.",
    auth: "either",
    request: listChatsQuery,
    response: listChatsResponse,
    answers: { 200: "a page of chats" },
    errors: {
      400: `\`invalid_cursor\`: a cursor this API did not return; \`invalid_limit\`; ${serviceRoleNamesAccount}`,
      403: forOthers,
    },
  },
  "list-sessions": {
    method: "GET",
    summary: "The caller's sessions, newest activity first, each with chat_count, has_unread and has_streaming.",
    description: "`next_cursor` fetches the next page.",
    auth: "either",
    request: listSessionsQuery,
    response: listSessionsResponse,
    answers: { 200: "a page of sessions" },
    errors: {
      400: `\`invalid_cursor\`: a cursor this API did not return; \`invalid_limit\`; ${serviceRoleNamesAccount}`,
      403: forOthers,
    },
  },
  "log-workflow-step": {
    method: "POST",
    summary: "Records a workflow run, its steps (each once, with usage and cost) and its end.",
    description: "A step's `usage` is the AI SDK's LanguageModelUsage as it serialises; the database computes " +
      "durations and adds usage to the run's, chat's, session's and account's totals.",
    auth: "service_role",
    request: logWorkflowStepRequest,
    response: logWorkflowStepResponse,
    answers: { 200: "the run existed", 201: "this call created the run" },
    errors: {
      400: "`unknown_run`: the run does not exist and `run.started_at` was not sent; a step or run that finishes " +
        "before it starts",
      404: notFound("the chat"),
      409: "`not_held`: the chat is held by another runner (or `runner_id` is missing); `conflict`: the run belongs " +
        "to another chat, or it already finished with another status",
    },
  },
  "mark-read": {
    method: "POST",
    summary: "Moves the caller's read marker of a chat forward (never back).",
    auth: "either",
    request: markReadRequest,
    response: markReadResponse,
    answers: { 200: "the marker as it now is" },
    errors: { 400: serviceRoleNamesAccount, 403: forOthers, 404: notFound("the chat") },
  },
  "pin-context": {
    method: "POST",
    summary: "Copies the session's live context resources (all, or the named sources) into the chat.",
    auth: "either",
    request: pinContextRequest,
    response: pinContextResponse,
    answers: { 200: "the sources added, updated and removed" },
    errors: { 404: notFound("the chat") },
  },
  "push-context": {
    method: "POST",
    summary: "The sandbox reports a session's context resources: instruction files, skills, attached files.",
    description: "The live view is upserted (hash and size computed by the database); with `replace` the sources " +
      "not listed are removed. Nothing is written when any resource is refused.",
    auth: "service_role",
    request: pushContextRequest,
    response: pushContextResponse,
    answers: { 200: "the sources added, updated and removed" },
    errors: {
      400: "`duplicate_source`: a source is listed twice",
      404: notFound("the session"),
      413: "the limit here is 16 MiB; `resource_too_large`: a resource body over 2 MiB of UTF-8",
    },
  },
  "delete-queued-message": {
    method: "POST",
    summary: "The owner takes a message out of the chat's queue; the ones after it move up.",
    auth: "either",
    request: queuedMessageRequest,
    response: deleteQueuedMessageResponse,
    answers: { 200: "the message deleted and the queue after it" },
    errors: { 404: notFound("the chat or the queued message") },
  },
  "edit-message": {
    method: "POST",
    summary: "The owner rewrites a user message (same id and seq); the agent answers the new version.",
    description: "Every later message is cut from the visible history (kept as an earlier version: get-messages' " +
      "`history_version`), the queue is dropped (returned in `dropped_queue`), a turn in flight ends aborted, and the " +
      "chat is pending. Followers get a `reset` event. An unchanged message is a retry: `edited: false`, nothing cut.",
    auth: "either",
    request: editMessageRequest,
    response: editMessageResponse,
    answers: { 200: "the message as it now reads, the chat, and the cut" },
    errors: {
      400: "`not_a_user_message`: only user messages are edited (regenerate an answer instead)",
      404: "`message_not_found`: no such message in the chat's visible history; " + notFound("the chat"),
      409: "`message_cut`: the message was cut from the history by an earlier edit or regenerate",
    },
  },
  "promote-queued-message": {
    method: "POST",
    summary: "The owner moves a queued message to the front of the queue: the agent answers it next.",
    auth: "either",
    request: queuedMessageRequest,
    response: promoteQueuedMessageResponse,
    answers: { 200: "the queue, the promoted message first" },
    errors: { 404: notFound("the chat or the queued message") },
  },
  regenerate: {
    method: "POST",
    summary: "A new answer to the last user message (or to `message_id`'s, or replacing the answer `message_id`).",
    description: "The answers after that user message are cut (kept as an earlier version), a turn in flight ends " +
      "aborted, the queue is dropped (returned), and the chat is pending. Naming an answer already replaced is a " +
      "retry: `regenerated: false`.",
    auth: "either",
    request: regenerateRequest,
    response: regenerateResponse,
    answers: { 200: "the chat and the cut" },
    errors: {
      400: "`nothing_to_regenerate`: the chat has no user message",
      404: notFound("the chat or the message"),
    },
  },
  "respond-to-approval": {
    method: "POST",
    summary: "The owner approves or denies a tool call the agent asked about (the AI SDK's tool approval).",
    description: "The tool part becomes `approval-responded` with `approval: { id, approved, reason }`; nothing else " +
      "of the agent's message changes. Once no approval is open, the chat is pending and the agent continues the same " +
      "message: it runs the approved call (`output-available`) or records the denial (`output-denied`).",
    auth: "either",
    request: respondToApprovalRequest,
    response: respondToApprovalResponse,
    answers: { 200: "the chat and the message; `answered: false` for an answer already recorded" },
    errors: {
      404: notFound("the chat, the assistant message or the approval"),
      409: "`already_answered`: the approval was answered the other way; `not_waiting`: the chat is not waiting for " +
        "approval (the turn that asked is not over)",
    },
  },
  "set-budget": {
    method: "POST",
    summary: "Sets an account's monthly limits on cost and tokens (null or absent: no limit).",
    description: "An account at or over a limit gets no new agent turn: its user messages answer 402 " +
      "budget_exceeded and claim-chats puts its pending chats in error.",
    auth: "service_role",
    request: setBudgetRequest,
    response: setBudgetResponse,
    answers: { 200: "the budget and its use this period" },
    errors: { 404: notFound("the account") },
  },
  "stop-chat": {
    method: "POST",
    summary: "The user presses stop: a running chat becomes stopping, a pending one idle, a waiting one idle (its " +
      "tool approvals denied).",
    description: "The worker ends the turn on its next heartbeat or chunk batch; otherwise nothing changes.",
    auth: "either",
    request: stopChatRequest,
    response: stopChatResponse,
    answers: { 200: "the chat as list-chats shows it" },
    errors: { 404: notFound("the chat") },
  },
  usage: {
    method: "GET",
    summary: "Token usage and cost by day, model, session or chat, with the account's budget.",
    description: "By UTC day or by model over from..to (default: this month to today), or the all-time totals of the " +
      "most expensive sessions or chats.",
    auth: "either",
    request: usageQuery,
    response: usageResponse,
    answers: { 200: "the rows and the budget" },
    errors: {
      400: `\`invalid_range\`: from is after to; ${serviceRoleNamesAccount}`,
      403: forOthers,
    },
  },
};

/** The error every function answers with (functions/_shared/http.ts, errorResponse). */
const errorBody = z.strictObject({
  error: z.strictObject({
    /** What went wrong, for a program: `not_found`, `invalid_request`, `not_held`, ... */
    code: z.string(),
    /** What went wrong, for a person; a 400's message leads with the field at fault and says what to send. */
    message: z.string(),
    /**
     * `invalid_request`: every problem, as `[{ path, message }]`; `chunk_gap`, `chunk_conflict`, `stream_closed`:
     * `{ next }`; `budget_exceeded`: the limit and the amount used.
     */
    details: z.unknown().optional(),
  }),
});

/** The error statuses every function has, by method. */
function commonErrors(op: Operation): Record<number, string> {
  const input = op.method === "POST" ? "the body" : "the query string";
  const errors: Record<number, string> = {
    400: `\`invalid_request\`: ${input} fails validation (\`details\` lists every problem); ` +
      (op.method === "POST" ? "`invalid_json`: the body is not JSON; " : "") +
      "`invalid_value`: the database refuses a value",
    401: "`unauthorized`: no token, or one that is malformed, expired or forged, or the anon key",
    405: "`method_not_allowed`: a method the function does not serve (the `Allow` header lists those it does)",
    503: "`database_unavailable`, `busy`: the database is unreachable or busy; retry after `Retry-After`",
  };
  if (op.auth === "service_role") errors[403] = "`forbidden`: a user's token: only the service role may call this";
  if (op.method === "POST") {
    errors[413] = "`payload_too_large`: the body is over MAX_BODY_BYTES (1 MiB by default)";
    errors[415] = "`unsupported_media_type`: the body is not sent as application/json";
  }
  return errors;
}

const schemaDir = path.join(projectRoot, "functions/_shared/schemas");
const schemaFiles = [
  ...readdirSync(schemaDir).map((file) => path.join("functions/_shared/schemas", file)),
  "scripts/openapi.ts",
];

type JsonSchema = Record<string, unknown>;

/** The OpenAPI document of every function in the catalog. */
export function openApiDocument() {
  const docOf = fieldDocs(schemaFiles.map((file) => path.join(projectRoot, file)));
  const schemas: Record<string, JsonSchema> = {};
  /** `schema` as JSON Schema, its recursive parts moved to components, its fields described from their comments. */
  const convert = (schema: z.ZodType, io: "input" | "output", name: string): JsonSchema => {
    const { $schema: _, $defs = {}, ...json } = z.toJSONSchema(schema, { io, unrepresentable: "any" });
    const defName = (def: string) => `${name}_${def.replace(/^_+/, "")}`;
    const fix = (node: unknown) =>
      visit(node, (object) => {
        if (typeof object.$ref === "string" && object.$ref.startsWith("#/$defs/")) {
          object.$ref = `#/components/schemas/${defName(object.$ref.slice("#/$defs/".length))}`;
        }
        if (isObject(object.properties)) {
          const keys = Object.keys(object.properties);
          for (const [key, property] of Object.entries(object.properties)) {
            const description = docOf(keys, key);
            if (description && isObject(property) && property.description === undefined) {
              object.properties[key] = { description, ...property };
            }
          }
        }
      });
    for (const [def, defSchema] of Object.entries($defs)) {
      fix(defSchema);
      schemas[defName(def)] = defSchema as JsonSchema;
    }
    fix(json);
    return json;
  };
  const component = (schema: z.ZodType, io: "input" | "output", name: string) => {
    schemas[name] = convert(schema, io, name);
    return { $ref: `#/components/schemas/${name}` };
  };
  schemas.Error = convert(errorBody, "output", "Error");

  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, entry] of Object.entries(catalog)) {
    for (const op of [entry].flat()) {
      const route = op.path ?? `/functions/v1/${name}`;
      const id = operationId(route);
      const title = id.replace(/(^|-)(\w)/g, (_, __, letter: string) => letter.toUpperCase());
      const success = op.response === "text/event-stream"
        ? { "text/event-stream": { schema: { type: "string" } } }
        : { "application/json": { schema: component(op.response, "output", `${title}Response`) } };
      const errors = mergeErrors(commonErrors(op), op.errors ?? {});
      paths[route] = {
        ...paths[route],
        [op.method.toLowerCase()]: {
          operationId: id,
          tags: [name],
          summary: op.summary,
          ...(op.description ? { description: op.description } : {}),
          security: op.auth === "service_role" ? [{ service_role: [] }] : [{ user: [] }, { service_role: [] }],
          ...(op.method === "POST"
            ? {
              requestBody: {
                required: true,
                content: { "application/json": { schema: component(op.request, "input", `${title}Request`) } },
              },
            }
            : { parameters: parameters(convert(op.request, "input", `${title}Query`), route) }),
          responses: Object.fromEntries([
            ...Object.entries(op.answers).map(([status, when]) => [
              status,
              status === "204" ? { description: when } : { description: when, content: success },
            ]),
            ...Object.entries(errors).map(([status, codes]) => [
              status,
              {
                description: codes,
                content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
              },
            ]),
          ]),
        },
      };
    }
  }

  return {
    openapi: "3.1.0",
    info: {
      title: "agent-chat-supabase edge functions",
      version: JSON.parse(readFileSync(path.join(projectRoot, "package.json"), "utf8")).version as string,
      description: "The Supabase edge functions of an AI coding-agent backend: chats and their messages, live " +
        "streams, run control for agent workers, context resources, usage and budgets. Every error is " +
        "`{ error: { code, message, details? } }`.",
    },
    servers: [
      { url: "http://127.0.0.1:54321", description: "the local stack: npm start, or supabase start" },
      {
        url: "https://{project_ref}.supabase.co",
        description: "a hosted Supabase project",
        variables: { project_ref: { default: "your-project-ref", description: "the project's reference id" } },
      },
    ],
    tags: Object.keys(catalog).sort().map((name) => ({ name, description: `functions/${name}/index.ts` })),
    paths: sortedKeys(paths),
    components: {
      schemas: sortedKeys(schemas),
      securitySchemes: {
        user: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "A signed-in user's access token (role authenticated): the function acts as that user and " +
            "row level security decides what they may touch.",
        },
        service_role: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "The project's service_role key: the trusted backend (an agent worker, a server). It may " +
            "call every function, and names `account_id` where it acts for an account.",
        },
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof openApiDocument>;

/** The generated files, by their path from the project root, as their text. */
export function generatedFiles(): Record<string, string> {
  const document = openApiDocument();
  return {
    "docs/api/openapi.json": JSON.stringify(document, null, 2) + "\n",
    "docs/api/README.md": renderReadme(document),
  };
}

/** The last words of the path, without its parameters: /functions/v1/chat/{chat_id}/stream is chat-stream. */
const operationId = (route: string) =>
  route.replace("/functions/v1/", "").split("/").filter((part) => !part.startsWith("{")).join("-");

/** A GET operation's parameters: each property of its query schema, in the path if the route names it. */
function parameters(query: JsonSchema, route: string) {
  const required = new Set(query.required as string[] | undefined);
  return Object.entries(query.properties as Record<string, JsonSchema>).map(([name, { description, ...schema }]) => {
    const inPath = route.includes(`{${name}}`);
    return {
      name,
      in: inPath ? "path" : "query",
      required: inPath || required.has(name),
      ...(description ? { description } : {}),
      schema,
    };
  });
}

function mergeErrors(common: Record<number, string>, own: Record<number, string>): Record<number, string> {
  const merged: Record<number, string> = { ...common };
  for (const [status, codes] of Object.entries(own)) {
    merged[Number(status)] = merged[Number(status)] ? `${merged[Number(status)]}; ${codes}` : codes;
  }
  return merged;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** Calls `fn` on every object in `node`, depth first. */
function visit(node: unknown, fn: (object: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) return node.forEach((item) => visit(item, fn));
  if (!isObject(node)) return;
  fn(node);
  for (const value of Object.values(node)) visit(value, fn);
}

const sortedKeys = <T>(object: Record<string, T>) =>
  Object.fromEntries(Object.entries(object).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [file, text] of Object.entries(generatedFiles())) {
    console.log(`writing ${file} ...`);
    await mkdir(path.dirname(path.join(projectRoot, file)), { recursive: true });
    await writeFile(path.join(projectRoot, file), text);
  }
}
