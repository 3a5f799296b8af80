/**
 * `GET /metrics` of a real broker process with a real worker agent: after N jobs ran, the
 * counters, histograms and gauges say so, every series carries the node's id, and the route
 * asks for the client token when tokens are on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { submit, until, waitJob } from '../helpers/http.js';
import {
  brokerArgs,
  FAST_LIVENESS,
  killAll,
  startAgent,
  startBrokerProcess,
} from '../helpers/processes.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of the Prometheus text format (comments and types left out). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample with this name and these labels (0 when there is none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: several samples`);
  return found[0]?.value ?? 0;
}

async function scrape(base: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await fetch(`${base}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-metrics-'));
});
afterEach(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

it('counts submitted, dispatched and ended jobs, their waits and runs, workers and slots', async () => {
  const b = await startBrokerProcess([...brokerArgs(join(dir, 'broker')), ...FAST_LIVENESS]);
  await startAgent(b, 'metered', ['--slots', '2']);
  const N = 5;
  const ids: string[] = [];
  for (let i = 0; i < N; i++) {
    ids.push((await submit(b.clientsUrl, { type: 'shell', payload: { command: 'true' } })).id);
  }
  // One that fails, in another queue, and one that waits (no worker serves its queue).
  const failing = await submit(b.clientsUrl, {
    type: 'shell',
    queue: 'default',
    payload: { command: 'exit 3', noRetryExitCodes: [3] },
  });
  await submit(b.clientsUrl, { type: 'shell', queue: 'parked', payload: { command: 'true' } });
  for (const id of ids) expect((await waitJob(b.clientsUrl, id)).state).toBe('succeeded');
  expect((await waitJob(b.clientsUrl, failing.id)).state).toBe('failed');
  const started = b.proc.lines.find((l) => l.includes('"broker started"'))!;
  const nodeId = (JSON.parse(started) as { node: string }).node;
  expect(nodeId).toMatch(/^n/);

  // The agent reports its slots free again only after the ends are committed.
  let samples: Sample[] = [];
  await until(
    async () => {
      samples = await scrape(b.clientsUrl);
      return value(samples, 'switchyard_slots', { state: 'busy' }) === 0;
    },
    5_000,
    'the slots to be free',
  );
  const q = { queue: 'default' };
  expect(value(samples, 'switchyard_jobs_submitted_total', q)).toBe(N + 1);
  expect(value(samples, 'switchyard_jobs_submitted_total', { queue: 'parked' })).toBe(1);
  expect(value(samples, 'switchyard_jobs_dispatched_total', q)).toBe(N + 1);
  expect(value(samples, 'switchyard_jobs_ended_total', { ...q, state: 'succeeded' })).toBe(N);
  expect(value(samples, 'switchyard_jobs_ended_total', { ...q, state: 'failed' })).toBe(1);
  expect(value(samples, 'switchyard_job_wait_seconds_count', q)).toBe(N + 1);
  expect(value(samples, 'switchyard_job_wait_seconds_bucket', { ...q, le: '+Inf' })).toBe(N + 1);
  expect(value(samples, 'switchyard_job_wait_seconds_sum', q)).toBeGreaterThanOrEqual(0);
  expect(value(samples, 'switchyard_job_run_seconds_count', q)).toBe(N + 1);
  expect(value(samples, 'switchyard_jobs', { state: 'succeeded', queue: 'default' })).toBe(N);
  expect(value(samples, 'switchyard_jobs', { state: 'failed', queue: 'default' })).toBe(1);
  expect(value(samples, 'switchyard_jobs', { state: 'queued', queue: 'parked' })).toBe(1);
  expect(value(samples, 'switchyard_workers', { state: 'idle' })).toBe(1);
  expect(value(samples, 'switchyard_workers', { state: 'busy' })).toBe(0);
  expect(value(samples, 'switchyard_slots', { state: 'free' })).toBe(2);
  expect(value(samples, 'switchyard_commit_seconds_count')).toBeGreaterThan(0);
  expect(value(samples, 'switchyard_notifier_backlog')).toBe(0);
  // The process metrics, event-loop lag among them.
  expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  expect(samples.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);
  // Every series names the node.
  expect(samples.filter((s) => s.labels.node !== nodeId)).toEqual([]);
});

it('asks for the client token when tokens are on', async () => {
  const b = await startBrokerProcess([...brokerArgs(join(dir, 'broker'))], {
    SWITCHYARD_CLIENT_TOKENS: 'metrics-client',
    SWITCHYARD_WORKER_TOKENS: 'metrics-worker',
  });
  expect((await fetch(`${b.clientsUrl}/metrics`)).status).toBe(401);
  const samples = await scrape(b.clientsUrl, { authorization: 'Bearer metrics-client' });
  expect(value(samples, 'switchyard_workers', { state: 'idle' })).toBe(0);
});
