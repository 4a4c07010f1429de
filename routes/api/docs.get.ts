import type { Ctx } from '../../lib/http/app.js';
import { DOCS_PAGE } from '../../lib/http/docs-page.js';
import type { RouteDoc } from '../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'The API explorer (Swagger UI) on /api/openapi.json: try any request (HTML; needs no token itself)',
  tag: 'meta',
};
export default (c: Ctx) => c.html(DOCS_PAGE);
