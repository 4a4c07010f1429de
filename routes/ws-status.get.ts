import type { Ctx } from '../lib/app.js';

const STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;

export default (c: Ctx) => {
  const clients = [...c.var.services.hub.clients].map(({ readyState }) => ({ readyState, readyStateText: STATES[readyState] }));
  return c.json({ connectedClients: clients.length, clients });
};
