/**
 * The benchmark harness of issue 3: runs each workload for each system, `runs` times, and prints
 * one table (medians, Switchyard's ratio to each peer, the targets met or missed); writes it to
 * bench/results/<timestamp>.{json,md} and, for a complete non-quick run, bench/results/latest.{json,md}.
 *
 * Bounded: every (workload, system, run) has a timeout; on a timeout its missing figures are
 * "timeout" and the harness goes on. Every child process is killed at the end, on an error and on
 * Ctrl-C.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as prettier from 'prettier';
import { parseOptions, paramsFor, USAGE, type Options } from './options.js';
import { summarizeProfile } from './profile.js';
import { PROFILES_DIR, RESULTS_DIR, ROOT } from './paths.js';
import { killAllChildren, runningChildren } from './procs.js';
import { evaluate, renderMarkdown, renderText, type Results, type SystemInfo } from './report.js';
import { formatNumber } from './stats.js';
import { SYSTEMS } from './systems/index.js';
import type { BenchEnv, SystemAdapter } from './systems/types.js';
import { WORKLOADS } from './workloads/index.js';
import {
  Scope,
  type Figure,
  type Params,
  type Workload,
  type WorkloadRun,
} from './workloads/types.js';

const log = (message: string): void => console.error(message);

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Starts Redis and PostgreSQL with ../shared/services.sh if one is down and the script exists. */
async function ensureServices(): Promise<void> {
  if ((await portOpen(5432)) && (await portOpen(6379))) return;
  const script = path.resolve(ROOT, '..', 'shared', 'services.sh');
  if (!existsSync(script)) return;
  log(`a service is down; running ${script}`);
  await new Promise<void>((resolve) => {
    execFile(script, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) log(`services.sh: ${error.message}`);
      log((stdout + stderr).trim());
      resolve();
    });
  });
}

/** The port of the service a system needs, or null. */
function servicePort(adapter: SystemAdapter, env: BenchEnv): number | null {
  if (adapter.service === 'redis') return env.redis.port;
  if (adapter.service === 'postgres') return Number(new URL(env.pgUrl).port || 5432);
  return null;
}

function selected<T extends { name?: string; id?: string }>(
  all: readonly T[],
  names: string[] | null,
  what: string,
): T[] {
  if (names === null) return [...all];
  const key = (t: T): string => t.name ?? t.id ?? '';
  const unknown = names.filter((n) => !all.some((t) => key(t) === n));
  if (unknown.length > 0) {
    throw new Error(`unknown ${what}: ${unknown.join(', ')} (known: ${all.map(key).join(', ')})`);
  }
  return all.filter((t) => names.includes(key(t)));
}

/** A workload's bound per system and run; BENCH_TIMEOUT_MS overrides it (to test the path). */
function timeoutOf(workload: Workload, params: Params): number {
  const override = Number(process.env.BENCH_TIMEOUT_MS);
  return override > 0 ? override : workload.timeoutMs(params);
}

type Outcome = 'ok' | 'timeout' | { error: string };

async function runOne(workload: Workload, ctx: WorkloadRun, timeoutMs: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const running = workload.run(ctx).then(
    (): Outcome => 'ok',
    (error: unknown): Outcome => ({
      error: (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'error',
    }),
  );
  const late = new Promise<Outcome>(
    (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
  );
  const outcome = await Promise.race([running, late]);
  clearTimeout(timer);
  ctx.scope.controller.abort();
  await ctx.scope.close(log);
  return outcome;
}

function summary(figures: Record<string, Figure>): string {
  return Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? formatNumber(v) : v}`)
    .join(' ');
}

async function main(options: Options): Promise<void> {
  const params: Params = paramsFor(options);
  const systems = selected(SYSTEMS, options.systems, 'system');
  const workloads = selected(WORKLOADS, options.only, 'workload');
  const started = new Date();
  const stamp = started
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z');
  const runTag = `${started.getTime().toString(36)}`;
  if (options.cpuProf) await mkdir(PROFILES_DIR, { recursive: true });
  const env: BenchEnv = {
    pgUrl: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    redis: { host: '127.0.0.1', port: Number(process.env.BENCH_REDIS_PORT ?? 6379) },
    cpuProfDir: options.cpuProf ? PROFILES_DIR : null,
    runTag,
    log,
  };
  if (systems.some((s) => s.service !== null)) await ensureServices();
  const down = new Set<string>();
  for (const s of systems) {
    const port = servicePort(s, env);
    if (port !== null && !(await portOpen(port))) down.add(s.name);
  }

  log(
    `bench: ${workloads.map((w) => w.id).join(',')} × ${systems.map((s) => s.name).join(',')}, ${options.runs} run(s)${options.quick ? ', quick' : ''}`,
  );
  const runs: Record<string, Record<string, Figure[]>> = {};
  const texts: Record<string, Record<string, string>> = {};
  const notes: string[] = [];
  if (options.quick) {
    notes.push(
      `quick mode: W1 ${params.w1Jobs} jobs, W2 ${params.w2Jobs} jobs, W3 ${params.w3Depth} queued (not 1,000,000), ` +
        `W4 ${params.w4Workers} workers (not 1,000), ${params.w4IdleMs / 1000} s idle window, ` +
        `W6 ${params.w6Jobs} failed jobs (not 100,000), W7 ${params.w7Jobs} jobs per phase; a smoke test, not the figures of the issue`,
    );
  } else {
    notes.push(
      `W1 ${params.w1Jobs} jobs; W2 ${params.w2Jobs} jobs (at most ${params.w2BudgetMs / 1000} s per system); ` +
        `W3 ${params.w3Depth} queued, head of ${params.w3Head}; W4 ${params.w4Workers} workers, ${params.w4IdleMs / 1000} s idle window; ` +
        `W6 ${params.w6Jobs} failed jobs, ${params.w6Probes} jobs timed with no retry; W7 ${params.w7Jobs} jobs per phase`,
    );
  }
  for (const s of down) notes.push(`${s}: its service is down; not measured`);

  for (const workload of workloads) {
    const times = workload.metrics.length === 0 ? 1 : options.runs;
    for (let r = 1; r <= times; r++) {
      for (const adapter of systems) {
        const ctx: WorkloadRun = {
          adapter,
          env,
          params,
          scope: new Scope(),
          label: `${workload.id}-run${r}`,
          figures: {},
          texts: {},
          notes,
          log,
        };
        let outcome: Outcome;
        if (down.has(adapter.name)) {
          outcome = { error: 'service down' };
        } else {
          log(`[${workload.id} run ${r}/${times}] ${adapter.name} ...`);
          outcome = await runOne(workload, ctx, timeoutOf(workload, params));
        }
        const fill: Figure =
          outcome === 'ok' ? 'error' : outcome === 'timeout' ? 'timeout' : 'error';
        for (const m of workload.metrics) {
          const value = ctx.figures[m.id] ?? fill;
          ((runs[m.id] ??= {})[adapter.name] ??= []).push(value);
        }
        Object.assign((texts[adapter.name] ??= {}), ctx.texts);
        if (outcome === 'timeout') {
          notes.push(
            `${adapter.name} ${workload.id} run ${r}: timed out after ${timeoutOf(workload, params) / 1000} s`,
          );
        } else if (outcome !== 'ok') {
          notes.push(`${adapter.name} ${workload.id} run ${r}: ${outcome.error}`);
        }
        log(
          `    ${outcome === 'ok' ? '' : `(${typeof outcome === 'string' ? outcome : outcome.error}) `}${summary(ctx.figures)}`,
        );
      }
    }
  }

  const infos: SystemInfo[] = systems.map((s) => ({
    name: s.name,
    role: s.role,
    settings: s.settings(),
    completionKnown: s.completionKnown,
    memoryNote: s.memoryNote,
  }));
  const profiles = options.cpuProf
    ? (await readdir(PROFILES_DIR))
        .filter((f) => f.startsWith(runTag))
        .map((f) => path.join('bench/results/profiles', f))
    : [];
  const profileSummaries = await Promise.all(
    profiles.map(async (p) => ({ ...(await summarizeProfile(path.join(ROOT, p))), file: p })),
  );
  const finished = new Date();
  const results: Results = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? '?',
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      node: process.versions.node,
      platform: `${os.platform()} ${os.release()}`,
    },
    options: {
      quick: options.quick,
      large: options.large,
      runs: options.runs,
      only: options.only ?? 'all',
      systems: options.systems ?? 'all',
      cpuProf: options.cpuProf,
    },
    subject: infos.find((s) => s.role === 'subject')?.name ?? null,
    systems: infos,
    metrics: workloads.flatMap((w) => w.metrics.map((m) => evaluate(m, runs[m.id] ?? {}, infos))),
    texts,
    notes,
    profiles,
    profileSummaries,
  };
  const text = renderText(results);
  process.stdout.write(text);
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = await formatted(JSON.stringify(results, null, 2) + '\n', 'latest.json');
  const md = await formatted(renderMarkdown(results), 'latest.md');
  await writeFile(path.join(RESULTS_DIR, `${stamp}.json`), json);
  await writeFile(path.join(RESULTS_DIR, `${stamp}.md`), md);
  // latest.* is the committed, README-bound table: only a complete, non-quick run replaces it.
  if (!options.quick && options.only === null && options.systems === null) {
    await writeFile(path.join(RESULTS_DIR, 'latest.json'), json);
    await writeFile(path.join(RESULTS_DIR, 'latest.md'), md);
    log(`wrote bench/results/${stamp}.{json,md} and bench/results/latest.{json,md}`);
  } else {
    log(`wrote bench/results/${stamp}.{json,md} (latest.* is left to complete, non-quick runs)`);
  }
}

/** Formats with the repository's Prettier settings, so that the committed results pass lint. */
async function formatted(text: string, name: string): Promise<string> {
  const filepath = path.join(RESULTS_DIR, name);
  try {
    const config = (await prettier.resolveConfig(filepath)) ?? {};
    return await prettier.format(text, { ...config, filepath });
  } catch {
    return text;
  }
}

process.on('exit', () => killAllChildren());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    const n = killAllChildren();
    log(
      `\n${signal}: killed ${n} child process(es); Redis keys and schemas of this run may remain (bench-*/bench_*)`,
    );
    process.exit(130);
  });
}

let options: Options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  log(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
main(options)
  .then(() => {
    const left = runningChildren();
    if (left > 0) log(`killing ${left} child process(es) left over`);
    // Clients of the peers may hold sockets open; the run is over.
    process.exit(0);
  })
  .catch((error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  });
