// The context every route handler and middleware receives: the hono environment of the app.
import type { Context } from 'hono';
import type { AccessRole } from '../domain/types.js';
import type { Services } from '../services.js';
import type { RouteFile } from './route-table.js';

/**
 * The caller of a request (what each may do is in `access.ts`). `admin`: the `MAESTRO_TOKEN`. `open`: no token on a
 * server without `MAESTRO_TOKEN` (loopback only). `session`: a session token. `runner`: a runner token. `user`: a person's token (§23), with its role.
 */
export type Caller =
  | { kind: 'admin' }
  | { kind: 'open' }
  | { kind: 'user'; id: string; name: string; role: AccessRole }
  | { kind: 'session'; sessionId: string }
  | { kind: 'runner'; host: string };

export type AppEnv = {
  Variables: {
    services: Services;
    /** The session whose session token authenticated the request (contract §15.6); unset for the admin or no token. */
    tokenSession?: string;
    /** Who is calling (set by the auth middleware): see `lib/http/access.ts`. */
    caller?: Caller;
    /** Every registered route, with its description (for `/api/openapi.json`). */
    routes: RouteFile[];
  };
};
/** The context a route handler receives. */
export type Ctx = Context<AppEnv>;
