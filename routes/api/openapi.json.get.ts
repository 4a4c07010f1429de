import type { Ctx } from '../../lib/http/app.js';
import { openApiDocument, type RouteDoc } from '../../lib/http/openapi.js';

export const describe: RouteDoc = { summary: 'This API description (OpenAPI 3.1)', tag: 'meta' };
export default (c: Ctx) => c.json(openApiDocument(c.var.routes));
