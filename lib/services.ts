import type { Config } from './config.js';
import { Db } from './db.js';
import { EventHub } from './events.js';
import type { Logger } from './log.js';
import { ProjectStore } from './stores/projects.js';
import { SessionStore } from './stores/sessions.js';
import { TaskStore } from './stores/tasks.js';

/** Everything a route handler may call, built once per server. */
export interface Services {
  config: Config;
  log: Logger;
  hub: EventHub;
  db: Db;
  projects: ProjectStore;
  tasks: TaskStore;
  sessions: SessionStore;
  startedAt: number;
}

/** Loads the data directory and builds the stores. */
export async function createServices(config: Config, log: Logger): Promise<Services> {
  const hub = new EventHub(log);
  const db = await Db.open(config.dataDir, hub, log);
  return {
    config,
    log,
    hub,
    db,
    projects: new ProjectStore(db),
    tasks: new TaskStore(db),
    sessions: new SessionStore(db),
    startedAt: Date.now(),
  };
}
