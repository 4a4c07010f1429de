// Wiring: the storage engine, the Db, the event hub, the stores and the host manager, once per server.
import type { Config } from './config.js';
import { EventHub } from './domain/events.js';
import { TaskGraph } from './domain/graph.js';
import { PeopleStore } from './domain/people.js';
import { SkillStore } from './domain/skills.js';
import { Spawner } from './domain/spawn.js';
import { AttentionStore } from './domain/stores/attention.js';
import { ClaimStore } from './domain/stores/claims.js';
import { repairLinks } from './domain/stores/links.js';
import { MessageStore } from './domain/stores/messages.js';
import { ProjectStore } from './domain/stores/projects.js';
import { QueueStore } from './domain/stores/queues.js';
import { SessionStore } from './domain/stores/sessions.js';
import { TaskStore } from './domain/stores/tasks.js';
import { TemplateStore } from './domain/stores/templates.js';
import { TokenStore } from './domain/tokens.js';
import { HostManager } from './hosts/index.js';
import { WakeNotices } from './hosts/wake-notices.js';
import { ReadCache } from './http/response-cache.js';
import type { Logger } from './log.js';
import { Db } from './storage/db.js';
import { FileEngine } from './storage/file/engine.js';

/** Everything a route handler may call, built once per server. */
export interface Services {
  config: Config;
  log: Logger;
  hub: EventHub;
  db: Db;
  /** Serialised GET answers, dropped on every change. */
  reads: ReadCache;
  projects: ProjectStore;
  tasks: TaskStore;
  /** Next, claims and leases (contract §18.2, §18.3). */
  claims: ClaimStore;
  /** Derived indexes of the task graph: dependents, ready tasks, claims. */
  graph: TaskGraph;
  sessions: SessionStore;
  queues: QueueStore;
  templates: TemplateStore;
  messages: MessageStore;
  skills: SkillStore;
  spawner: Spawner;
  tokens: TokenStore;
  /** People's tokens and roles (§23). */
  people: PeopleStore;
  hosts: HostManager;
  /** Which agent needs a person (§21). */
  attention: AttentionStore;
  /** Stops timers and background work started by the services; run by the server on close. */
  onClose: (() => void | Promise<void>)[];
}

/** Loads the data directory, repairs one-sided links, seeds the default templates and builds the stores. */
export async function createServices(config: Config, log: Logger, now?: () => number): Promise<Services> {
  const hub = new EventHub(log);
  const onFatal = () => {
    // Storage and memory may disagree after a failed write that could not be undone: stop rather than serve it.
    process.exitCode = 1;
    setImmediate(() => process.exit(1));
  };
  // The PostgreSQL client is loaded only when it is used.
  const engine =
    config.databaseType === 'postgres'
      ? new (await import('./storage/postgres/engine.js')).PostgresEngine({
          url: config.databaseUrl!,
          log,
          onFatal,
          mailSecret: config.token,
        })
      : new FileEngine({ dir: config.dataDir, log });
  const db = await Db.open({ engine, hub, log, now, onFatal });
  const pruneEvents = () => db.events.prune(db.now(), config.eventRetentionDays * 86_400_000, 100_000, config.eventRetentionBytes);
  pruneEvents();
  const pruning = setInterval(pruneEvents, 3_600_000).unref();
  const repaired = await repairLinks(db);
  if (repaired > 0) log.info(`Restored ${repaired} task↔session link(s) that only one side recorded`);
  const templates = new TemplateStore(db);
  await templates.seed();
  const graph = new TaskGraph(db);
  const claims = new ClaimStore(db, graph, log);
  const messages = new MessageStore(db, { rate: config.messageRate, retentionDays: config.messageRetentionDays }, log);
  const stopMessages = await messages.start();
  const tokens = new TokenStore(db, log);
  const attention = new AttentionStore(db);
  const hosts = new HostManager(db, tokens, log, attention);
  // The wake-up notice (§16.3) reaches runner-managed agents' terminals when they wait, never as a command (§24.8).
  const wakeNotices = new WakeNotices(db, hosts, config.idleMs, log);
  messages.notify = wakeNotices.notify;
  return {
    config,
    log,
    hub,
    db,
    reads: new ReadCache(db),
    projects: new ProjectStore(db),
    tasks: new TaskStore(db, graph),
    claims,
    graph,
    sessions: new SessionStore(db, graph, attention),
    attention,
    queues: new QueueStore(db),
    templates,
    messages,
    skills: new SkillStore(config.skillsDir, log),
    spawner: new Spawner(db, templates, config, log, tokens, hosts),
    tokens,
    people: new PeopleStore(db),
    hosts,
    onClose: [
      () => wakeNotices.close(),
      () => hosts.close(),
      stopMessages,
      () => clearInterval(pruning),
      () => claims.close(),
      () => db.close(),
    ],
  };
}
