/**
 * The package as a user installs it: `npm pack`, installed with production dependencies only
 * into a fresh project (no dev dependency of this repository to lean on). A TypeScript program
 * there type-checks against the installed types and runs jobs with the installed Client and
 * Worker against `npx switchyard up` started from the project; a postgres:// store finds pg;
 * and importing `switchyard` loads none of the broker's modules.
 *
 * Uses dist/ as built (`npm test` builds first): the test checks that it is there and newer
 * than src/, and packs with --ignore-scripts, so that `prepare` does not build again.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmEnv, productionLock, run } from '../helpers/install.js';
import { waitGroupGone } from '../helpers/process-groups.js';
import { killAll, Proc } from '../helpers/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Fails early, and says why, when dist/ is missing or older than a source file. */
function checkBuilt(): void {
  for (const entry of readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.ts')) continue;
    const built = join(ROOT, 'dist', entry.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(ROOT, 'src', entry)).mtimeMs)
      throw new Error(`dist/ is missing or older than src/${entry}: run npm run build first`);
  }
}

let dir: string;
let app: string;
let packedFiles: string[];

beforeAll(async () => {
  checkBuilt();
  dir = await mkdtemp(join(tmpdir(), 'switchyard-package-'));
  const env = npmEnv();
  const packed = await run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', dir],
    { cwd: ROOT, env },
  );
  const [info] = JSON.parse(packed.stdout) as [
    { filename: string; files: Array<{ path: string }> },
  ];
  packedFiles = info.files.map((f) => f.path);
  await run('tar', ['-xzf', info.filename, 'package/package.json'], { cwd: dir });
  const manifest = JSON.parse(readFileSync(join(dir, 'package', 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };

  app = join(dir, 'app');
  mkdirSync(app);
  const tarball = `../${info.filename}`;
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'switchyard-package-test',
      private: true,
      type: 'module',
      dependencies: { [manifest.name]: `file:${tarball}` },
    }),
  );
  await writeFile(
    join(app, 'package-lock.json'),
    JSON.stringify(productionLock(join(ROOT, 'package-lock.json'), manifest, tarball)),
  );
  await run(
    'npm',
    ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'],
    {
      cwd: app,
      env,
    },
  );

  // better-sqlite3's install script (skipped: --ignore-scripts) would download or build its
  // native binding; building it from source takes minutes here, and this test is about what
  // the package declares, not about node-gyp. The repository's binding is of the same version
  // (both come from package-lock.json), so it is copied in.
  const version = (base: string): string =>
    (
      JSON.parse(readFileSync(join(base, 'node_modules/better-sqlite3/package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  expect(version(app)).toBe(version(ROOT));
  const binding = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
  mkdirSync(join(app, binding, '..'), { recursive: true });
  copyFileSync(join(ROOT, binding), join(app, binding));
}, 300_000);

afterAll(async () => {
  await killAll();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** `npx switchyard ARGS...` in the project, as the leader of a process group (npx runs node). */
function npx(args: readonly string[]): Proc {
  return new Proc('npx', ['switchyard', ...args], {
    cwd: app,
    env: { ...npmEnv(), npm_config_offline: 'true' },
    group: true,
  });
}

/** A program of the user's: both halves of the SDK, and a mistake the types must catch. */
const PROGRAM = `import { Client, Worker, type Job, type JobContext } from 'switchyard';

const [clientsUrl, workersUrl] = process.argv.slice(2);
if (clientsUrl === undefined || workersUrl === undefined) {
  throw new Error('usage: main.js CLIENTS_URL WORKERS_URL');
}

const client = new Client({ url: clientsUrl });
const worker = new Worker({
  brokers: workersUrl,
  handlers: {
    add: async (job: JobContext) => {
      const { a, b } = job.payload as { a: number; b: number };
      return { sum: a + b };
    },
  },
});

// @ts-expect-error a job needs a type: proof that the package's types are checked, not any
void (() => client.submit({ payload: {} }));

await worker.start();
try {
  const jobs: Job[] = await Promise.all([
    client.submit({ type: 'shell', payload: { command: 'echo hello from the package' } }),
    client.submit({ type: 'add', payload: { a: 2, b: 3 } }),
  ]);
  const ended = await Promise.all(jobs.map((job) => client.wait(job.id, { timeoutMs: 60_000 })));
  console.log(JSON.stringify(ended.map(({ type, state, result }) => ({ type, state, result }))));
} finally {
  await worker.close();
}
`;

describe('the packed package', () => {
  it('ships dist, README, LICENSE and package.json, and nothing of the tests or the benchmark', () => {
    for (const needed of [
      'LICENSE',
      'README.md',
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/main/index.js',
      'dist/main/index.d.ts',
      'dist/cli/main.js',
    ]) {
      expect(packedFiles).toContain(needed);
    }
    const other = packedFiles.filter(
      (f) => !f.startsWith('dist/') && !['LICENSE', 'README.md', 'package.json'].includes(f),
    );
    expect(other).toEqual([]);
  });

  it('installs with production dependencies only, pg among them', () => {
    for (const dependency of ['pg', 'fastify', 'better-sqlite3', 'pino', 'switchyard']) {
      expect(existsSync(join(app, 'node_modules', dependency, 'package.json')), dependency).toBe(
        true,
      );
    }
    for (const devOnly of ['typescript', 'vitest', '@types/node']) {
      expect(existsSync(join(app, 'node_modules', devOnly)), devOnly).toBe(false);
    }
  });

  it('type-checks a program using Client and Worker, which runs jobs against npx switchyard up', async () => {
    await writeFile(join(app, 'main.ts'), PROGRAM);
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          // The project has no @types of its own (a user's would have @types/node).
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
          outDir: 'out',
        },
        files: ['main.ts'],
      }),
    );
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], {
      cwd: app,
    });

    const up = npx([
      'up',
      '--clients-port',
      '0',
      '--workers-port',
      '0',
      '--data-dir',
      join(dir, 'data'),
    ]);
    const clientsLine = await up.waitFor(/client API\s+http:\/\//, 60_000);
    const workersLine = await up.waitFor(/workers\s+ws:\/\//, 60_000);
    const clientsUrl = /(http:\/\/\S+)\/api\/v1/.exec(clientsLine)![1]!;
    const workersUrl = /(ws:\/\/\S+)/.exec(workersLine)![1]!;

    const { stdout } = await run(process.execPath, ['out/main.js', clientsUrl, workersUrl], {
      cwd: app,
      timeoutMs: 90_000,
    });
    const ended = JSON.parse(stdout.trim()) as Array<{
      type: string;
      state: string;
      result: unknown;
    }>;
    expect(ended).toEqual([
      {
        type: 'shell',
        state: 'succeeded',
        result: expect.objectContaining({ exitCode: 0 }) as unknown,
      },
      { type: 'add', state: 'succeeded', result: { sum: 5 } },
    ]);

    // Ctrl-C: SIGINT to the whole group, as a terminal sends it (npx runs the command through a
    // shell and does not pass on a SIGINT sent to npx alone). The broker stops cleanly, and
    // nothing of it stays.
    process.kill(-up.pid, 'SIGINT');
    await up.exited;
    expect(up.output()).toMatch(/broker stopped/);
    expect(await waitGroupGone(up.pid)).toEqual([]);
  }, 180_000);

  it('opens a postgres:// store with its own pg (here: refused, since nothing listens)', async () => {
    const broker = npx([
      'broker',
      '--store',
      'postgres://127.0.0.1:1/switchyard',
      '--clients-port',
      '0',
      '--workers-port',
      '0',
      '--data-dir',
      join(dir, 'pg-data'),
    ]);
    expect((await broker.exited).code, broker.output()).toBe(9);
    expect(broker.output()).toMatch(/cannot open the PostgreSQL store .*refused the connection/);
  }, 60_000);

  it("loads none of the broker's modules when switchyard is imported", async () => {
    // Every URL the ESM loader resolves, written to a file by a resolve hook (module.register
    // runs hooks in a thread of their own).
    await writeFile(
      join(app, 'record-resolve.mjs'),
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.RESOLVED_LOG, result.url + '\\n');
  return result;
}
`,
    );
    await writeFile(
      join(app, 'hook.mjs'),
      `import { register } from 'node:module';\nregister('./record-resolve.mjs', import.meta.url);\n`,
    );
    const resolved = async (specifier: string): Promise<string[]> => {
      const log = join(dir, `resolved-${specifier.replace(/\W/g, '-')}.txt`);
      await run(
        process.execPath,
        ['--import', './hook.mjs', '--input-type=module', '-e', `await import('${specifier}')`],
        { cwd: app, env: { ...process.env, RESOLVED_LOG: log } },
      );
      return readFileSync(log, 'utf8').trim().split('\n');
    };
    const broker =
      /\/node_modules\/switchyard\/dist\/(main|broker|store|api|cli|config|log)\/|\/node_modules\/(fastify|better-sqlite3|pg|pino|@fastify\/[^/]+)\//;

    const sdk = await resolved('switchyard');
    expect(sdk).toContain(`file://${app}/node_modules/switchyard/dist/index.js`);
    expect(sdk).toContain(`file://${app}/node_modules/switchyard/dist/worker/worker.js`);
    expect(sdk.filter((url) => broker.test(url))).toEqual([]);

    // The hook does see them where they are loaded.
    const full = await resolved('switchyard/broker');
    expect(full).toContain(`file://${app}/node_modules/switchyard/dist/main/index.js`);
    expect(full.filter((url) => broker.test(url)).length).toBeGreaterThan(0);
  }, 60_000);
});
