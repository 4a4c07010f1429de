/** People's tokens (contract §23), for admins: the list, live over token events; create (secret shown once); revoke. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { isAdmin, onEvent } from '../store';
import { ErrorLine, Field, timeAgo, useAction } from '../util';
import { ConfirmButton } from './Confirm';

type Role = 'viewer' | 'member' | 'admin';
interface PersonToken {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  lastUsedAt: number | null;
}
/** A token just created: its secret lives in this view's memory only until the admin dismisses it. */
type Created = PersonToken & { token: string };

/** The secret of a new token, shown once with a copy button; gone from the page once dismissed. */
function NewSecret({ created, onDone }: { created: Created; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied('Copied');
    } catch {
      setCopied('Copying was refused: select the token and copy it by hand');
    }
  };
  return (
    <section class="new-secret stack" aria-labelledby="new-secret-title">
      <h2 id="new-secret-title">Token for {created.name}</h2>
      <p>Copy it now and give it to {created.name}: it is shown only this once (the server keeps only its hash).</p>
      <input class="secret" aria-label="New token" readOnly value={created.token} onFocus={(e) => e.currentTarget.select()} />
      <div class="actions">
        <button type="button" class="primary" onClick={() => void copy()}>
          Copy token
        </button>
        <button type="button" onClick={onDone}>
          Done
        </button>
        {copied && (
          <span class="muted small" role="status">
            {copied}
          </span>
        )}
      </div>
    </section>
  );
}

function CreateToken({ onCreated }: { onCreated: (c: Created) => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('member');
  const { error, busy, run } = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    await run(async () => {
      onCreated(await api<Created>('POST', '/api/tokens', { name: name.trim(), role }));
      setName('');
    });
  };
  return (
    <form class="inline-form" aria-label="Create a token" onSubmit={(e) => void submit(e)}>
      <Field label="Name">
        {(id) => <input id={id} required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />}
      </Field>
      <Field label="Role">
        {(id) => (
          <select id={id} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            <option value="viewer">viewer: reads only</option>
            <option value="member">member: works</option>
            <option value="admin">admin: also manages</option>
          </select>
        )}
      </Field>
      <button type="submit" class="primary" disabled={busy}>
        Create token
      </button>
      <ErrorLine error={error} />
    </form>
  );
}

export function TokensView() {
  const [tokens, setTokens] = useState<PersonToken[] | null>(null);
  const [created, setCreated] = useState<Created | null>(null);
  const { error, run } = useAction();
  useEffect(() => {
    const load = () => void run(async () => setTokens(await api<PersonToken[]>('GET', '/api/tokens')));
    // Another admin's change (or this page's own) arrives as an event: the list is read again, so it never drifts.
    const off = onEvent((e) => (e.type === 'token:created' || e.type === 'token:deleted') && load());
    if (isAdmin()) load();
    return off;
  }, []);
  if (!isAdmin()) return <p role="alert">Only an admin manages people's tokens.</p>;
  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">People</h1>
      <p class="muted">Each person gets a token of their own; revoking one works at once and affects nobody else.</p>
      <CreateToken onCreated={setCreated} />
      {created && <NewSecret created={created} onDone={() => setCreated(null)} />}
      <ErrorLine error={error} />
      {tokens === null ? (
        <p class="muted">Loading…</p>
      ) : tokens.length === 0 ? (
        <p class="muted">No person has a token yet.</p>
      ) : (
        <table aria-label="Tokens">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>{t.role}</td>
                <td title={new Date(t.createdAt).toLocaleString()}>{timeAgo(t.createdAt)}</td>
                <td>{t.lastUsedAt === null ? 'never' : timeAgo(t.lastUsedAt)}</td>
                <td>
                  <ConfirmButton
                    label="Revoke"
                    ariaLabel={`Revoke ${t.name}`}
                    title={`Revoke the token of ${t.name}?`}
                    action="Revoke token"
                    question={<p>It stops working at once; its open event streams and terminals are closed.</p>}
                    act={() => api('DELETE', `/api/tokens/${encodeURIComponent(t.id)}`)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
