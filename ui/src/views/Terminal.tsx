import { useEffect, useRef, useState } from 'preact/hooks';
import { api, socketUrl } from '../api';
import { mayChange } from '../store';
import { ErrorLine, Field, useAction } from '../util';

const COLS = 120;
const ROWS = 32;

/**
 * The agent's live terminal (§15.4): xterm.js fed by the WebSocket `/api/sessions/:id/terminal` (screen contents first,
 * then every output chunk as binary frames); keystrokes go back as text frames. Loaded on demand, so the rest of the
 * dashboard does not wait for xterm.
 */
export function Terminal({ sessionId, alive }: { sessionId: string; alive: boolean }) {
  const host = useRef<HTMLElement>(null);
  const [status, setStatus] = useState('connecting');
  const [attempt, setAttempt] = useState(0);
  // A viewer watches (§23): the server drops its keys, so its terminal takes none and does not say it would.
  const typing = alive && mayChange();
  useEffect(() => {
    let ws: WebSocket | null = null;
    let disposed = false;
    let term: import('@xterm/xterm').Terminal | null = null;
    void Promise.all([import('@xterm/xterm'), import('@xterm/xterm/css/xterm.css')]).then(([{ Terminal: XTerm }]) => {
      if (disposed) return;
      term = new XTerm({ cols: COLS, rows: ROWS, convertEol: false, scrollback: 5000, fontSize: 13, disableStdin: !typing });
      term.open(host.current!);
      ws = new WebSocket(socketUrl(`/api/sessions/${encodeURIComponent(sessionId)}/terminal`));
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => {
        setStatus(alive ? 'connected' : 'ended');
        if (!alive) return;
        ws!.send(JSON.stringify({ type: 'resize', cols: COLS, rows: ROWS }));
      };
      ws.onmessage = (m) => term!.write(typeof m.data === 'string' ? m.data : new Uint8Array(m.data as ArrayBuffer));
      ws.onclose = () => !disposed && setStatus((now) => (now === 'ended' ? now : 'closed'));
      term.onData((data) => ws?.readyState === WebSocket.OPEN && ws.send(data));
      // Every key goes to the agent, Tab included; F6 leaves the terminal so the keyboard is never trapped there.
      term.attachCustomKeyEventHandler((e) => {
        if (e.key !== 'F6') return true;
        if (e.type === 'keydown') host.current?.parentElement?.querySelector<HTMLInputElement>('.terminal-input input')?.focus();
        return false;
      });
    });
    return () => {
      disposed = true;
      ws?.close();
      term?.dispose();
    };
  }, [sessionId, attempt, typing]);

  return (
    <section aria-labelledby="terminal-title" class="terminal">
      <div class="title-row">
        <h2 id="terminal-title">Terminal</h2>
        <span class="muted small" role="status" aria-label={`Terminal ${status}`}>
          {status === 'ended' ? 'ended: the last screen of the agent' : status}
        </span>
        {status === 'closed' && alive && (
          <button type="button" class="small" onClick={() => (setStatus('connecting'), setAttempt((a) => a + 1))}>
            Reconnect terminal
          </button>
        )}
      </div>
      <section ref={host} class="xterm-host" aria-label="Live terminal output" />
      {typing && (
        <>
          <p class="muted small">Keys typed in the terminal go to the agent; F6 moves on to the input box.</p>
          <TerminalInput sessionId={sessionId} />
        </>
      )}
      {alive && !typing && <p class="muted small">You are watching: your role (viewer) does not type into agents.</p>}
    </section>
  );
}

/** Types a whole line into the agent (bracketed paste, then Enter), for when typing into the terminal is awkward. */
function TerminalInput({ sessionId }: { sessionId: string }) {
  const [text, setText] = useState('');
  const { error, busy, run } = useAction();
  return (
    <form
      class="inline-form terminal-input"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await run(() => api('POST', `/api/sessions/${encodeURIComponent(sessionId)}/input`, { text, submit: true }))) setText('');
      }}
    >
      <Field label="Input for the agent">
        {(id) => <input id={id} value={text} required onInput={(e) => setText(e.currentTarget.value)} />}
      </Field>
      <button type="submit" disabled={busy}>
        Send input
      </button>
      <ErrorLine error={error} />
    </form>
  );
}
