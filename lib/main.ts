#!/usr/bin/env node
// The `maestro-server` bin.
import { runServer } from './start.js';

await runServer();
