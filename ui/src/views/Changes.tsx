// The Changes view of a session with a worktree (contract §20.6): files, coloured diff, Merge and Remove.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { mayChange } from '../store';
import type { Session } from '../types';
import { Badge } from '../util';

interface DiffFile {
  path: string;
  oldPath?: string;
  status: string;
  additions: number;
  deletions: number;
  binary: boolean;
}
interface Diff {
  branch: string;
  baseBranch: string | null;
  files: DiffFile[];
  conflicts: string[];
  patch: string;
  truncated: boolean;
}
/** A refusal or conflict as the server told it, with the files it names. */
interface Problem {
  code: string;
  message: string;
  files: string[];
  /** Whether it refused a removal: only then is "Remove anyway" the way on (never after a refused merge). */
  removal?: boolean;
}

const problemOf = (e: unknown): Problem => {
  const details = (e instanceof ApiError ? e.details : undefined) as { files?: string[] } | undefined;
  return { code: e instanceof ApiError ? e.code : 'ERROR', message: (e as Error).message, files: details?.files ?? [] };
};

/**
 * Each line of a unified diff with its class: added, removed, hunk header, file header. `---` and `+++` name files
 * only in a file's header, before its first hunk: inside a hunk, a removed `-- comment` or an added `++i` is a change.
 */
function classified(patch: string): [line: string, cls: string][] {
  let header = false;
  return patch.split('\n').map((line) => {
    if (line.startsWith('diff --git')) header = true;
    else if (line.startsWith('@@')) header = false;
    if (header) return [line, line.startsWith('diff --git') || line.startsWith('---') || line.startsWith('+++') ? 'd-file' : ''];
    return [line, line.startsWith('+') ? 'd-add' : line.startsWith('-') ? 'd-del' : line.startsWith('@@') ? 'd-hunk' : ''];
  });
}

export function Changes({ session }: { session: Session }) {
  const ws = session.workspace!;
  const path = `/api/sessions/${encodeURIComponent(session.id)}`;
  const [diff, setDiff] = useState<Diff | null>(null);
  /** What an action (merge, removal) was refused for, and why the diff could not be read (gone once it is). */
  const [problem, setProblem] = useState<Problem | null>(null);
  const [readProblem, setReadProblem] = useState<Problem | null>(null);
  const [strategy, setStrategy] = useState('squash');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const running = session.run?.state === 'running' || session.run?.state === 'pending';
  const removed = ws.state === 'removed';
  // (why the diff could not be read no longer matters once the worktree is removed)
  const shown = problem ?? (removed ? null : readProblem);

  /** A diff being read, and whether another is wanted after it: one git run at a time on the runner. */
  const reading = useRef<{ again: boolean } | null>(null);
  const load = async (): Promise<void> => {
    if (reading.current) return void (reading.current.again = true);
    reading.current = { again: false };
    try {
      setDiff(await api<Diff>('GET', `${path}/diff`));
      setReadProblem(null);
    } catch (e) {
      setReadProblem(problemOf(e));
    }
    const { again } = reading.current;
    reading.current = null;
    if (again) await load();
  };
  // While the agent runs, every change of its session (its terminal turning busy or quiet, a report, input) may come
  // with changed files: the diff is read again, so the view follows the agent's work without a Refresh.
  useEffect(() => {
    if (!removed) void load();
  }, [session.id, ws.state, session.run?.state, running && session.lastActivity]);

  const act = async (what: () => Promise<string>, removal = false) => {
    setBusy(true);
    setProblem(null);
    setDone(null);
    try {
      setDone(await what());
    } catch (e) {
      setProblem({ ...problemOf(e), removal });
    } finally {
      setBusy(false);
    }
  };
  const merge = () =>
    act(async () => {
      const r = await api<{ commit: string }>('POST', `${path}/merge`, { strategy });
      await load();
      return `Merged into ${ws.baseBranch} (${strategy}): ${r.commit.slice(0, 12)}`;
    });
  const remove = (force: boolean) =>
    act(async () => {
      const s = await api<Session>('DELETE', `${path}/workspace${force ? '?force=true' : ''}`);
      return `Worktree removed; ${s.workspace?.archiveRef ? `its state is kept as ${s.workspace.archiveRef}` : 'nothing was left to keep'}`;
    }, true);

  return (
    <section aria-labelledby="changes-title" class="changes">
      <h2 id="changes-title">Changes</h2>
      <p class="muted small">
        Branch <code>{ws.branch}</code> from <code>{ws.baseBranch ?? ws.baseCommit?.slice(0, 12)}</code> · <Badge>{ws.state}</Badge>
      </p>
      {removed ? (
        <p class="muted">
          The worktree was removed;{' '}
          {ws.archiveRef ? (
            <>
              its state is kept as <code>{ws.archiveRef}</code>.
            </>
          ) : (
            'nothing was left to keep.'
          )}
        </p>
      ) : (
        <>
          <div class="actions">
            {mayChange() && (
              <>
                <label>
                  Strategy{' '}
                  <select value={strategy} onChange={(e) => setStrategy(e.currentTarget.value)}>
                    <option value="squash">squash</option>
                    <option value="merge">merge</option>
                    <option value="rebase">rebase</option>
                  </select>
                </label>
                <button type="button" class="primary" disabled={busy || running || !ws.baseBranch} onClick={merge}>
                  Merge into {ws.baseBranch ?? '—'}
                </button>
                <button type="button" class="danger" disabled={busy || running} onClick={() => remove(false)}>
                  Remove worktree
                </button>
              </>
            )}
            <button type="button" disabled={busy} onClick={() => void load()}>
              Refresh
            </button>
          </div>
          {running && <p class="muted small">Stop the agent to merge or remove its worktree.</p>}
        </>
      )}
      {done && <p role="status">{done}</p>}
      {shown && (
        <div class="error" role="alert">
          <p>
            <strong>{shown.code}</strong>: {shown.message}
          </p>
          {shown.files.length > 0 && (
            <ul aria-label="Files">
              {shown.files.map((f) => (
                <li key={f}>
                  <code>{f}</code>
                </li>
              ))}
            </ul>
          )}
          {mayChange() && shown.removal && shown.code === 'WORKSPACE_DIRTY' && !removed && (
            <button type="button" class="danger" disabled={busy} onClick={() => remove(true)}>
              Remove anyway (archived first)
            </button>
          )}
        </div>
      )}
      {diff && !removed && (
        <>
          {diff.conflicts.length > 0 && (
            <p class="warn" role="note">
              Would conflict with {diff.baseBranch}: {diff.conflicts.join(', ')}
            </p>
          )}
          <table class="files" aria-label="Changed files">
            <tbody>
              {diff.files.map((f) => (
                <tr key={f.path}>
                  <td>
                    <Badge kind={`f-${f.status}`}>{f.status}</Badge>
                  </td>
                  <td>
                    <code>{f.oldPath ? `${f.oldPath} → ${f.path}` : f.path}</code>
                  </td>
                  <td class="d-add">{f.binary ? 'binary' : `+${f.additions}`}</td>
                  <td class="d-del">{f.binary ? '' : `−${f.deletions}`}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {diff.files.length === 0 && <p class="muted">No changes.</p>}
          <pre class="patch">
            {classified(diff.patch).map(([line, cls], i) => (
              <span key={i} class={cls}>
                {line}
                {'\n'}
              </span>
            ))}
          </pre>
          {diff.truncated && <p class="muted small">The diff was cut at 2 MiB.</p>}
        </>
      )}
    </section>
  );
}
