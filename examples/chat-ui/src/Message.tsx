// One message: its text, and each tool call as a card with its input and output. Parts this example
// does not show (step boundaries, sources, files, data parts) are left out. Its actions: Edit on a user
// message (an inline editor), Regenerate on the last answer, Approve and Deny on a tool call waiting
// for approval. The handlers come from ChatView, which does them through useChat.
import { getToolName, isToolUIPart, type UIMessage } from "ai";
import { type ReactNode, useState } from "react";

type Part = UIMessage["parts"][number];
type ToolPart = Extract<Part, { toolCallId: string }>;
type OnApproval = (approvalId: string, approved: boolean, reason?: string) => void;

const textOf = (message: UIMessage) => message.parts.map((part) => (part.type === "text" ? part.text : "")).join("");

export function MessageView({ message, queued = false, onEdit, onRegenerate, onApproval, children }: {
  message: UIMessage;
  queued?: boolean;
  onEdit?: (text: string) => void;
  onRegenerate?: () => void;
  onApproval?: OnApproval;
  /** More controls (a queued message's). */
  children?: ReactNode;
}) {
  const [editing, setEditing] = useState(false);
  return (
    <article
      className={`message ${message.role}${queued ? " queued" : ""}`}
      data-role={message.role}
      data-message-id={message.id}
    >
      {editing && onEdit
        ? (
          <EditForm
            text={textOf(message)}
            onSave={(text) => {
              setEditing(false);
              onEdit(text);
            }}
            onCancel={() => setEditing(false)}
          />
        )
        : message.parts.map((part, index) => <PartView key={index} part={part} onApproval={onApproval} />)}
      {queued ? <p className="notice">Queued: the agent reads it when it has finished its answer.</p> : null}
      <div className="actions">
        {onEdit && !editing ? <button type="button" onClick={() => setEditing(true)}>Edit</button> : null}
        {onRegenerate ? <button type="button" onClick={onRegenerate}>Regenerate</button> : null}
        {children}
      </div>
    </article>
  );
}

/** A sent message's text, to change: saving sends it again (what came after it is cut). */
function EditForm({ text, onSave, onCancel }: {
  text: string;
  onSave: (text: string) => void;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState(text);
  return (
    <form
      className="edit"
      onSubmit={(event) => {
        event.preventDefault();
        if (draft.trim()) onSave(draft);
      }}
    >
      <textarea aria-label="Edited message" rows={3} value={draft} onChange={(event) => setDraft(event.target.value)} />
      <button type="submit">Save and ask again</button>
      <button type="button" onClick={onCancel}>Cancel</button>
    </form>
  );
}

function PartView({ part, onApproval }: { part: Part; onApproval?: OnApproval }) {
  if (part.type === "text") return <p className="text">{part.text}</p>;
  if (part.type === "reasoning") {
    return (
      <details>
        <summary>Reasoning</summary>
        <p className="text">{part.text}</p>
      </details>
    );
  }
  if (isToolUIPart(part)) return <ToolCard part={part} onApproval={onApproval} />;
  return null;
}

const toolStates: Record<ToolPart["state"], string> = {
  "input-streaming": "preparing",
  "input-available": "running",
  "approval-requested": "waiting for approval",
  "approval-responded": "answered",
  "output-available": "done",
  "output-error": "failed",
  "output-denied": "denied",
};

function ToolCard({ part, onApproval }: { part: ToolPart; onApproval?: OnApproval }) {
  const reason = part.state === "output-denied" && part.approval.reason ? `: ${part.approval.reason}` : "";
  return (
    <div className="tool" data-tool-call-id={part.toolCallId} data-state={part.state}>
      <strong>{getToolName(part)}</strong> <span className="notice">{toolStates[part.state]}{reason}</span>
      <pre>input: {JSON.stringify(part.input, null, 2)}</pre>
      {part.state === "output-available" ? <pre>output: {JSON.stringify(part.output, null, 2)}</pre> : null}
      {part.state === "output-error" ? <pre role="alert">{part.errorText}</pre> : null}
      {part.state === "approval-requested" && onApproval
        ? <ApprovalForm onAnswer={(approved, reason) => onApproval(part.approval.id, approved, reason)} />
        : null}
    </div>
  );
}

/** Approve, or deny with an optional reason (the model reads it). */
function ApprovalForm({ onAnswer }: { onAnswer: (approved: boolean, reason?: string) => void }) {
  const [reason, setReason] = useState("");
  return (
    <div className="approval">
      <button type="button" onClick={() => onAnswer(true)}>Approve</button>
      <input
        aria-label="Reason to deny"
        placeholder="Reason to deny (optional)"
        value={reason}
        onChange={(event) => setReason(event.target.value)}
      />
      <button type="button" onClick={() => onAnswer(false, reason.trim() || undefined)}>Deny</button>
    </div>
  );
}
