// The runner's environment as agents and tmux get it: without secrets (no process is started from here).

/** Variables a runner never hands to tmux or to an agent (contract §15.6). */
export const SECRET_VARS = ['MAESTRO_TOKEN', 'MAESTRO_HOST_TOKEN'] as const;

/** The runner's own environment without secrets, and without `TMUX` so that a runner started inside tmux works. */
export function cleanEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !SECRET_VARS.includes(key as never) && key !== 'TMUX' && key !== 'TMUX_PANE') out[key] = value;
  }
  return out;
}
