#!/usr/bin/env node
// The `maestro` bin: runs the CLI on this process's arguments, environment and streams.

const args = process.argv.slice(2);
// `maestro … | head`: the reader has gone, so the output is no longer wanted; end quietly, as other tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});
// `maestro hook <event> [json]` runs inside every agent's loop: it skips loading the other commands (§21).
if (args[0] === 'hook' && (args.length === 2 || args.length === 3) && !args[1]!.startsWith('-')) {
  const { reportHook } = await import('./hook.js');
  await reportHook({ event: args[1]!, json: args[2], env: process.env, warn: (t) => void process.stderr.write(t) });
  process.exit(0);
}
const { run } = await import('./program.js');
const code = await run(args);
// Commands that hand the terminal to another program (worker init, attach) set the process's exit code themselves.
process.exitCode = code || process.exitCode;
