// `maestro token create|list|revoke` (contract §23): people's tokens, managed with an admin token.
import type { Command } from 'commander';
import type { TokenView } from '../domain/people.js';
import { ACCESS_ROLES } from '../domain/types.js';
import { action } from './context.js';

const when = (ms: number | null) => (ms === null ? 'never' : new Date(ms).toISOString());
const tokenLine = (t: TokenView) => `${t.id}  ${t.name}  ${t.role}  created ${when(t.createdAt)}  last used ${when(t.lastUsedAt)}`;

export function tokenCommands(program: Command) {
  const token = program.command('token').alias('tokens').description("Manage people's tokens (needs an admin token)");

  token
    .command('create <name>')
    .description('Give a person a token of their own; the secret is printed this once')
    .option('--role <role>', `${ACCESS_ROLES.join(', ')}`, 'member')
    .action(
      action(async (ctx, name: string, opts: { role: string }) => {
        const created = await ctx.client.post<TokenView & { token: string }>('/api/tokens', { name, role: opts.role });
        ctx.out(created, (t) => `Created token ${t.id} for ${t.name} (${t.role})\n${t.token}\nIt is shown only now: give it to ${t.name}.`);
        // Accepted without any token: the server has no MAESTRO_TOKEN and answers every request as the admin's, so a
        // person's role restricts nothing yet. Said, not refused: the token works once the server has one.
        if (!ctx.client.token) {
          ctx.warn(
            'maestro: warning: this server runs without MAESTRO_TOKEN and answers requests that carry no token as the ' +
              "administrator's: this token's role limits nothing until the server is started with MAESTRO_TOKEN set.\n",
          );
        }
      }),
    );

  token
    .command('list')
    .description("List people's tokens (never their secrets)")
    .action(
      action(async (ctx) => {
        ctx.out(await ctx.client.get<TokenView[]>('/api/tokens'), (ts) => (ts.length ? ts.map(tokenLine).join('\n') : 'No tokens.'));
      }),
    );

  token
    .command('revoke <id>')
    .description('Revoke a token: it stops working at once, and its open streams are closed')
    .action(
      action(async (ctx, id: string) => {
        ctx.out(await ctx.client.delete(`/api/tokens/${encodeURIComponent(id)}`), () => `Revoked token ${id}`);
      }),
    );
}
