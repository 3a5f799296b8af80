/** The package version, read from package.json (two levels up from src/ and from dist/). */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const version: string = (require('../package.json') as { version: string }).version;
