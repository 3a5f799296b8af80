/** Where things are: the repository root, the built broker, the results directory. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** This file runs from dist-bench/bench/paths.js; the repository is two levels up. */
export const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
export const PROFILES_DIR = path.join(RESULTS_DIR, 'profiles');
/** The forked worker-side entry point (compiled next to this file). */
export const WORKER_MAIN = fileURLToPath(new URL('./worker-main.js', import.meta.url));
