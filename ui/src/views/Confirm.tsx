/** A yes/no question before anything that cannot be undone (delete, stop), as a modal dialog named by its question. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ErrorLine, Modal, useAction } from '../util';

export function ConfirmDialog({
  title,
  action,
  children,
  onConfirm,
  onClose,
}: {
  title: string;
  /** The confirming button's text, e.g. "Delete task". */
  action: string;
  children?: ComponentChildren;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}) {
  const { error, busy, run } = useAction();
  return (
    <Modal title={title} onClose={onClose}>
      <div class="stack">
        {children}
        <ErrorLine error={error} />
        <div class="actions">
          <button type="button" onClick={onClose} autofocus>
            Cancel
          </button>
          <button type="button" class="danger" disabled={busy} onClick={async () => (await run(onConfirm)) && onClose()}>
            {action}
          </button>
        </div>
      </div>
    </Modal>
  );
}

/** A button that opens a ConfirmDialog; `act` runs only once the user agreed. */
export function ConfirmButton(props: {
  label: string;
  title: string;
  action: string;
  question?: ComponentChildren;
  disabled?: boolean;
  class?: string;
  act: () => Promise<unknown>;
  ariaLabel?: string;
}) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button
        type="button"
        class={props.class ?? 'danger'}
        disabled={props.disabled}
        aria-label={props.ariaLabel}
        onClick={() => setOpen(true)}
      >
        {props.label}
      </button>
      {open && (
        <ConfirmDialog title={props.title} action={props.action} onConfirm={props.act} onClose={() => setOpen(false)}>
          {props.question}
        </ConfirmDialog>
      )}
    </>
  );
}
