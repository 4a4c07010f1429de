#!/usr/bin/env node
// The `maestro` bin: runs the CLI on this process's arguments, environment and streams.
import { run } from './program.js';

const code = await run(process.argv.slice(2));
// Commands that hand the terminal to another program (worker init, attach) set the process's exit code themselves.
process.exitCode = code || process.exitCode;
