// The route files, imported statically when the server is bundled (scripts/build-server.mjs replaces this module):
// `RouteFile`s of route-table.ts, each with its `module`. From source and from `dist/lib/` there are none here:
// `scanRoutes` finds the files on disk.
export const BUNDLED_ROUTES: readonly object[] | undefined = undefined;
