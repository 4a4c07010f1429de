import { CreatedToken } from '../../../lib/domain/entities.js';
import { CreateToken } from '../../../lib/domain/requests.js';
import type { Ctx } from '../../../lib/http/app.js';
import { body } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Give a person a token of their own, with a role (the secret is in this answer only; the server keeps its SHA-256)',
  body: CreateToken,
  response: CreatedToken,
  status: 201,
  errors: { 400: 'VALIDATION_ERROR', 403: 'FORBIDDEN (not an admin)' },
};
export default async (c: Ctx) => {
  const { name, role } = await body(c, CreateToken);
  return c.json(await c.var.services.people.create(name, role), 201);
};
