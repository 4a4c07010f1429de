#!/usr/bin/env node
// The `maestro-server` bin.
import { runServer } from './run.js';

await runServer();
