import { memo } from 'preact/compat';
import { useMemo, useState } from 'preact/hooks';
import { hostOffline, state } from '../store';
import { isFinalSession, type Session } from '../types';
import { Badge, statusLabel, timeAgo } from '../util';
import { AttentionBadge } from './NeedsYou';

type Group = { name: string; sessions: Session[]; groups: Map<string, Group> };
const newGroup = (name: string): Group => ({ name, sessions: [], groups: new Map() });

/**
 * Sessions grouped by host, then by the `level1-level2-name` naming convention (seed 002): `shop-api-auth` sits in
 * group `shop`, sub-group `api`. Names without two dashes stay directly under their host.
 */
export function groupSessions(sessions: Session[]): Group {
  const root = newGroup('');
  const child = (g: Group, name: string) => g.groups.get(name) ?? (g.groups.set(name, newGroup(name)), g.groups.get(name)!);
  for (const s of sessions) {
    let g = child(root, s.host ?? 'No runner');
    const parts = s.name.split('-');
    if (parts.length >= 3 && parts[0] && parts[1] && !/\s/.test(parts[0] + parts[1])) g = child(child(g, parts[0]), parts[1]);
    g.sessions.push(s);
  }
  return root;
}

const count = (g: Group): number => g.sessions.length + [...g.groups.values()].reduce((n, c) => n + count(c), 0);

/** Status and run state as badges; a session on an offline host says so instead of its stale "working · running". */
export function StateBadges({ s }: { s: Session }) {
  if (hostOffline(s))
    return (
      <Badge kind="warn" title={`Last known: ${statusLabel(s.status)}${s.run ? `, run ${s.run.state}` : ''}`}>
        host {s.host} offline
      </Badge>
    );
  return (
    <>
      <Badge kind={`ss-${s.status}`}>{statusLabel(s.status)}</Badge>
      {s.run && s.run.state !== 'running' && <Badge kind={`run-${s.run.state}`}>run: {s.run.state}</Badge>}
    </>
  );
}

/**
 * One session's row. Rows re-render only when what they show changes (the session, its host's status, its project's
 * name, the "… ago" text): with a thousand live sessions each reporting, a render after an event then touches the
 * rows of the sessions that changed, not every row.
 */
export const SessionRow = ({ s }: { s: Session }) => <MemoRow s={s} shown={shown(s)} />;

/** What a row shows besides the session object itself. */
const shown = (s: Session) =>
  `${state.hosts.get(s.host ?? '')?.status}|${state.projects.get(s.projectId)?.name}|${timeAgo(s.lastActivity)}`;

const MemoRow = memo(SessionRowView);

function SessionRowView({ s }: { s: Session; shown: string }) {
  const project = state.projects.get(s.projectId);
  return (
    <li class="session-row">
      <a href={`#/s/${encodeURIComponent(s.id)}`}>{s.name}</a>
      <StateBadges s={s} />
      <AttentionBadge s={s} />
      {s.agent && <Badge>{s.agent}</Badge>}
      <span class="muted small">
        {project?.name ?? s.projectId} · {timeAgo(s.lastActivity)}
      </span>
    </li>
  );
}

function GroupView({ group, level }: { group: Group; level: number }) {
  const Heading = `h${Math.min(level + 2, 6)}` as 'h2';
  return (
    <details open class="group">
      <summary>
        <Heading class="inline">
          {group.name} <span class="muted">({count(group)})</span>
        </Heading>
      </summary>
      <div class="group-body">
        {[...group.groups.values()]
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((g) => (
            <GroupView key={g.name} group={g} level={level + 1} />
          ))}
        {group.sessions.length > 0 && (
          <ul class="plain">
            {group.sessions.map((s) => (
              <SessionRow key={s.id} s={s} />
            ))}
          </ul>
        )}
      </div>
    </details>
  );
}

export function SessionsView() {
  const [showEnded, setShowEnded] = useState(false);
  const tree = useMemo(() => {
    const list = [...state.sessions.values()]
      .filter((s) => showEnded || !isFinalSession(s.status))
      .sort((a, b) => a.name.localeCompare(b.name));
    return groupSessions(list);
  }, [state.version, showEnded]);
  return (
    <section aria-labelledby="sessions-title">
      <div class="title-row">
        <h1 id="sessions-title">Sessions</h1>
        <label class="check">
          <input type="checkbox" checked={showEnded} onChange={(e) => setShowEnded(e.currentTarget.checked)} /> Show ended sessions
        </label>
      </div>
      {tree.groups.size === 0 && <p class="muted">No {showEnded ? '' : 'active '}sessions.</p>}
      {[...tree.groups.values()].map((g) => (
        <GroupView key={g.name} group={g} level={0} />
      ))}
    </section>
  );
}
