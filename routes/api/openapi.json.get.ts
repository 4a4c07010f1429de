import type { Ctx } from '../../lib/app.js';
import { openApiDocument, type RouteDoc } from '../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'This API description (OpenAPI 3.1)', tag: 'meta' };
export default (c: Ctx) => c.json(openApiDocument(c.var.routes));
