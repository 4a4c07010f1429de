import type { Config } from './config.js';
import { Db } from './db.js';
import { EventHub } from './events.js';
import { HostManager } from './hosts/index.js';
import type { Logger } from './log.js';
import { SkillStore } from './skills.js';
import { Spawner } from './spawn.js';
import { repairLinks } from './stores/links.js';
import { ProjectStore } from './stores/projects.js';
import { QueueStore } from './stores/queues.js';
import { SessionStore } from './stores/sessions.js';
import { TaskStore } from './stores/tasks.js';
import { TemplateStore } from './stores/templates.js';
import { TokenStore } from './tokens.js';

/** Everything a route handler may call, built once per server. */
export interface Services {
  config: Config;
  log: Logger;
  hub: EventHub;
  db: Db;
  projects: ProjectStore;
  tasks: TaskStore;
  sessions: SessionStore;
  queues: QueueStore;
  templates: TemplateStore;
  skills: SkillStore;
  spawner: Spawner;
  tokens: TokenStore;
  hosts: HostManager;
  /** Stops timers and background work started by the services; run by the server on close. */
  onClose: (() => void | Promise<void>)[];
}

/** Loads the data directory, repairs one-sided links, seeds the default templates and builds the stores. */
export async function createServices(config: Config, log: Logger, now?: () => number): Promise<Services> {
  const hub = new EventHub(log);
  const db = await Db.open(config.dataDir, hub, log, now);
  const repaired = await repairLinks(db);
  if (repaired > 0) log.info(`Restored ${repaired} task↔session link(s) that only one side recorded`);
  const templates = new TemplateStore(db);
  await templates.seed();
  const tokens = new TokenStore(db, log);
  const hosts = new HostManager(db, tokens, config, log);
  return {
    config,
    log,
    hub,
    db,
    projects: new ProjectStore(db),
    tasks: new TaskStore(db),
    sessions: new SessionStore(db),
    queues: new QueueStore(db),
    templates,
    skills: new SkillStore(config.skillsDir, log),
    spawner: new Spawner(db, templates, config, log, tokens, hosts),
    tokens,
    hosts,
    onClose: [() => hosts.close()],
  };
}
