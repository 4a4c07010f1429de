#!/usr/bin/env node
// The `maestro` bin: runs the CLI on this process's arguments, environment and streams.
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2));
