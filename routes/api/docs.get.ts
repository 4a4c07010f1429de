import type { Ctx } from '../../lib/app.js';
import { DOCS_PAGE } from '../../lib/docs-page.js';
import type { RouteDoc } from '../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'A page that renders /api/openapi.json (HTML; needs no token itself)', tag: 'meta' };
export default (c: Ctx) => c.html(DOCS_PAGE);
