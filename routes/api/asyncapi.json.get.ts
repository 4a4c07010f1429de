import type { Ctx } from '../../lib/http/app.js';
import { asyncApiDocument, type RouteDoc } from '../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "The live events: envelope and each event's data (AsyncAPI 3.0, JSON Schema payloads)",
  tag: 'meta',
};
export default (c: Ctx) => c.json(asyncApiDocument());
