#!/usr/bin/env node
import { main } from './program.js';

// The installed `roadlog` binary. Long-running commands (tail, kafka start --foreground, ...)
// resolve only when they are done, so by now all work has finished: exit with its code.
// stdout to a pipe or file is written synchronously on Linux, so nothing is cut off.
process.exit(await main());
