import { state } from '../store';
import { isFinalSession } from '../types';
import { Badge, timeAgo } from '../util';

/** The runners (§15.1): state, platform, the agents each found, and how many sessions run there. */
export function HostsView() {
  const hosts = [...state.hosts.values()].sort((a, b) => a.name.localeCompare(b.name));
  // Counted from the live sessions: a host's own `sessions` is only as fresh as its last host event.
  const running = new Map<string, number>();
  for (const s of state.sessions.values()) if (s.host && !isFinalSession(s.status)) running.set(s.host, (running.get(s.host) ?? 0) + 1);
  return (
    <section aria-labelledby="hosts-title">
      <h1 id="hosts-title">Hosts</h1>
      {!state.hostsAvailable ? (
        <p class="muted">This server has no runners (hosts endpoint not available).</p>
      ) : hosts.length === 0 ? (
        <p class="muted">No host has connected yet. Run `maestro host` on a machine to add one.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">Machine</th>
              <th scope="col">Agents</th>
              <th scope="col">Sessions</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {hosts.map((h) => (
              <tr key={h.name}>
                <th scope="row">
                  {h.name} {h.local && <Badge>local</Badge>}
                </th>
                <td>
                  <Badge kind={h.status === 'online' ? 'ok' : 'warn'}>{h.status}</Badge>
                </td>
                <td class="small">
                  {h.hostname} · {h.platform}/{h.arch} · v{h.version}
                </td>
                <td>{h.agents.join(', ') || '—'}</td>
                <td>{running.get(h.name) ?? 0}</td>
                <td>{h.status === 'online' ? 'now' : timeAgo(h.lastSeen)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
