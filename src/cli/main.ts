#!/usr/bin/env node
/**
 * The `switchyard` executable. Everything happens in `run`; this file only hands it the process
 * and sets the exit status.
 */
import { run } from './run.js';

// `switchyard jobs | head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await run(process.argv.slice(2));
