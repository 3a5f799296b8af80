/**
 * Installing the packed package into a fresh project without the network: npm's cache on this
 * machine holds the tarballs `npm ci` fetched (by integrity), but not the registry's metadata
 * that resolving version ranges needs, so `npm install --offline` cannot plan an install. The
 * project gets a lockfile instead, cut from the repository's: exactly the versions `npm ci`
 * installed here, limited to what the packed package.json declares (its dependencies, theirs,
 * and so on). `npm ci --offline` then installs from the cache alone.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** One package in a lockfile (v3): where it came from and what it needs. */
interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  peer?: boolean;
  [key: string]: unknown;
}

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  license?: string;
}

/**
 * Where Node would find `name` from the package at `from` (a lockfile path such as
 * `node_modules/a`, or '' for the root): its own node_modules first, then each one above.
 */
function lookup(packages: Record<string, LockEntry>, from: string, name: string): string | null {
  let base = from;
  for (;;) {
    const path = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
    if (packages[path] !== undefined) return path;
    if (base === '') return null;
    const up = base.lastIndexOf('/node_modules/');
    base = up < 0 ? '' : base.slice(0, up);
  }
}

/**
 * The lockfile of a project whose one dependency is `tarball` (a `file:` spec relative to the
 * project), whose manifest is `manifest`: every package reachable from the manifest's
 * dependencies in the repository's lockfile `repoLockPath`, at the same place in the tree.
 * Dependency flags are recomputed for this project: nothing is dev, and a package is optional
 * when only optional dependencies lead to it. Throws naming a dependency the lockfile lacks.
 */
export function productionLock(repoLockPath: string, manifest: Manifest, tarball: string): object {
  const repo = (
    JSON.parse(readFileSync(repoLockPath, 'utf8')) as {
      packages: Record<string, LockEntry>;
    }
  ).packages;
  // path → whether only optional edges reach it so far
  const reached = new Map<string, boolean>();
  const queue: Array<[string, boolean]> = [];
  const follow = (from: string, deps: Record<string, string> | undefined, optional: boolean) => {
    for (const name of Object.keys(deps ?? {})) {
      const path = lookup(repo, from, name);
      if (path !== null) queue.push([path, optional]);
      else if (!optional)
        throw new Error(`${name}, needed by ${from || manifest.name}, is not in ${repoLockPath}`);
    }
  };
  follow('', manifest.dependencies, false);
  follow('', manifest.optionalDependencies, true);
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const [path, optional] = next;
    const before = reached.get(path);
    if (before === false || before === optional) continue;
    reached.set(path, optional);
    const entry = repo[path] as LockEntry;
    const meta = entry.peerDependenciesMeta ?? {};
    const peers = Object.entries(entry.peerDependencies ?? {}).filter(([n]) => !meta[n]?.optional);
    follow(path, entry.dependencies, optional);
    follow(path, entry.optionalDependencies, true);
    follow(path, Object.fromEntries(peers), optional);
  }
  const packages: Record<string, object> = {
    '': { name: 'switchyard-package-test', dependencies: { [manifest.name]: `file:${tarball}` } },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: `file:${tarball}`,
      ...(manifest.license === undefined ? {} : { license: manifest.license }),
      ...(manifest.dependencies === undefined ? {} : { dependencies: manifest.dependencies }),
      ...(manifest.bin === undefined ? {} : { bin: manifest.bin }),
      ...(manifest.engines === undefined ? {} : { engines: manifest.engines }),
    },
  };
  for (const [path, optional] of [...reached].sort(([a], [b]) => a.localeCompare(b))) {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- dropped: recomputed here
    const { dev, devOptional, optional: wasOptional, peer, ...entry } = repo[path] as LockEntry;
    packages[path] = optional ? { ...entry, optional: true } : entry;
  }
  return { name: 'switchyard-package-test', lockfileVersion: 3, requires: true, packages };
}

/**
 * The environment for an npm started by a test: without the `npm_*` variables of an npm that
 * may be running the tests (they would point the inner npm at this repository), but with the
 * cache the outer one uses.
 */
export function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) || /^npm_config_cache$/i.test(key)) env[key] = value;
  }
  delete env.INIT_CWD;
  return env;
}

/** Runs a command to completion; rejects with its output if it fails. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 180_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error === null) resolve({ stdout, stderr });
        else
          reject(
            new Error(
              `${command} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`,
            ),
          );
      },
    );
  });
}
