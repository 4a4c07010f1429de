// The route files, imported statically when the server is bundled (scripts/build-server.mjs replaces this module).
// From source and from `dist/lib/` there are none here: `scanRoutes` finds the files on disk.
import type { RouteFile } from './route-table.js';

export const BUNDLED_ROUTES: RouteFile[] | undefined = undefined;
