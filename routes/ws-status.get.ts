import { WsStatus } from '../lib/domain/entities.js';
import type { Ctx } from '../lib/http/app.js';
import type { RouteDoc } from '../lib/http/openapi.js';

const STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;

export const describe: RouteDoc = { summary: 'The connected WebSocket clients', response: WsStatus };
export default (c: Ctx) => {
  const clients = [...c.var.services.hub.clients].map(({ readyState }) => ({ readyState, readyStateText: STATES[readyState] }));
  return c.json({ connectedClients: clients.length, clients });
};
