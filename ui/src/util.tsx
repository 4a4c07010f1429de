import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import { state, subscribe } from './store';

/** Re-renders the calling component whenever the state changes (batched by the store). */
export function useLive(): number {
  const [, setTick] = useState(0);
  useEffect(() => subscribe(() => setTick((t) => t + 1)), []);
  return state.version;
}

export function timeAgo(ms: number | null | undefined): string {
  if (!ms) return '—';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 60) return `${Math.max(s, 0)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return new Date(ms).toLocaleDateString();
}

export const clock = (ms: number) => new Date(ms).toLocaleTimeString();

/** A server message with the IDs it names (`task_…`, `sess_…`, `proj_…`) told as the page names them. */
const named = (message: string) =>
  message.replace(/\b(?:task|sess|proj)_\w+/g, (id) => {
    const name = state.tasks.get(id)?.title ?? state.sessions.get(id)?.name ?? state.projects.get(id)?.name;
    return name ? `“${name}”` : id;
  });

export const errorText = (error: unknown) =>
  error instanceof ApiError ? `${named(error.message)} (${error.code})` : error instanceof Error ? error.message : String(error);

export function Badge({ kind, children, title }: { kind?: string; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${kind ?? ''}`} title={title}>
      {children}
    </span>
  );
}

/** A form control that can take focus: what a dialog focuses first. */
const FIELD = 'input:not([type=hidden]):not(:disabled), select:not(:disabled), textarea:not(:disabled)';

/**
 * A native modal dialog: focus is trapped, Escape closes it (focus goes back where it was), and it is announced with its
 * title. It opens on its `autofocus` control, else on its first field (a question without fields: its × button).
 */
export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current!;
    dialog.showModal();
    // showModal() alone focuses the first focusable element, which is the × button in the header.
    if (!dialog.querySelector('[autofocus]')) dialog.querySelector<HTMLElement>(FIELD)?.focus();
    const close = () => onClose();
    dialog.addEventListener('close', close);
    return () => {
      dialog.removeEventListener('close', close);
      if (dialog.open) dialog.close();
    };
  }, []);
  const id = `dlg-${title.replace(/\W+/g, '-')}`;
  return (
    <dialog ref={ref} aria-labelledby={id}>
      <header class="dialog-head">
        <h2 id={id}>{title}</h2>
        <button type="button" class="ghost" aria-label="Close" onClick={() => ref.current?.close()}>
          ×
        </button>
      </header>
      {children}
    </dialog>
  );
}

/** Runs an async action, holding its error for display and a busy flag to disable the control. */
export function useAction() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, run };
}

export const ErrorLine = ({ error }: { error: string | null }) =>
  error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;

/** The page of a project, task or session that does not exist (deleted, or a stale link): what is gone, and a way on. */
export const Missing = ({ what, list, href }: { what: 'project' | 'task' | 'session'; list: string; href: string }) => (
  <section aria-labelledby="missing-title">
    <h1 id="missing-title">{what[0]!.toUpperCase() + what.slice(1)} not found</h1>
    <p role="alert">This {what} no longer exists.</p>
    <p>
      <a href={href}>Back to {list}</a>
    </p>
  </section>
);

export const statusLabel = (s: string) => s.replace(/_/g, ' ');

/** A labelled form control. The label is not wrapped around the control, so its accessible name is the label alone. */
export function Field({ label, hint, children }: { label: string; hint?: string; children: (id: string) => ComponentChildren }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children(id)}
      {hint && <span class="muted small">{hint}</span>}
    </div>
  );
}
