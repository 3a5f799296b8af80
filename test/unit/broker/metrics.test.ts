/** The metrics module: its own registry, bounded queue labels, the cached store read. */
import { describe, expect, it } from 'vitest';
import { register as globalRegistry } from 'prom-client';
import { MAX_QUEUE_LABELS, Metrics, OTHER_QUEUE } from '../../../src/broker/metrics.js';
import type { QueueStateCount } from '../../../src/store/store.js';

function metrics(over: { now?: () => number; jobCounts?: () => Promise<QueueStateCount[]> } = {}) {
  return new Metrics({
    nodeId: 'n_test',
    now: over.now ?? (() => 0),
    jobCounts: over.jobCounts ?? (async () => []),
    workers: () => ({ workers: { idle: 2, busy: 1 }, busySlots: 3, freeSlots: 5 }),
    defaultMetrics: false,
  });
}

describe('Metrics', () => {
  it('labels every series with the node, in a registry of its own', async () => {
    const m = metrics();
    m.jobSubmitted('emails');
    m.jobDispatched('emails', 1_000, 3_500);
    m.jobEnded('emails', 'succeeded');
    m.attemptRan('emails', 250);
    m.commitTook(0.002);
    const text = await m.scrape();
    expect(text).toContain('switchyard_jobs_submitted_total{queue="emails",node="n_test"} 1');
    expect(text).toContain('switchyard_jobs_dispatched_total{queue="emails",node="n_test"} 1');
    expect(text).toContain(
      'switchyard_jobs_ended_total{queue="emails",state="succeeded",node="n_test"} 1',
    );
    expect(text).toContain('switchyard_job_wait_seconds_sum{node="n_test",queue="emails"} 2.5');
    expect(text).toContain('switchyard_job_run_seconds_sum{node="n_test",queue="emails"} 0.25');
    expect(text).toContain('switchyard_commit_seconds_count{node="n_test"} 1');
    expect(text).toContain('switchyard_workers{state="idle",node="n_test"} 2');
    expect(text).toContain('switchyard_workers{state="draining",node="n_test"} 0');
    expect(text).toContain('switchyard_slots{state="free",node="n_test"} 5');
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await globalRegistry.metrics()).not.toContain('switchyard_');
  });

  it('keeps at most MAX_QUEUE_LABELS queue names; later ones count under _other', async () => {
    const m = metrics();
    for (let i = 0; i < MAX_QUEUE_LABELS + 50; i++) m.jobSubmitted(`q${i}`);
    m.jobSubmitted('q0');
    const text = await m.scrape();
    const series = text.split('\n').filter((l) => l.startsWith('switchyard_jobs_submitted_total{'));
    expect(series).toHaveLength(MAX_QUEUE_LABELS + 1);
    expect(text).toContain(
      `switchyard_jobs_submitted_total{queue="${OTHER_QUEUE}",node="n_test"} 50`,
    );
    expect(text).toContain('switchyard_jobs_submitted_total{queue="q0",node="n_test"} 2');
  });

  it('asks the store for the job gauge at most every 2 s, and again after a failure', async () => {
    let now = 0;
    let asked = 0;
    let fail = false;
    const m = metrics({
      now: () => now,
      jobCounts: async () => {
        asked++;
        if (fail) throw new Error('store down');
        return [{ queue: 'q', state: 'queued', count: asked }];
      },
    });
    expect(await m.scrape()).toContain('switchyard_jobs{state="queued",queue="q",node="n_test"} 1');
    now = 1_999;
    await m.scrape();
    expect(asked).toBe(1);
    now = 2_000;
    fail = true;
    await expect(m.scrape()).rejects.toThrow('store down');
    fail = false;
    expect(await m.scrape()).toContain('switchyard_jobs{state="queued",queue="q",node="n_test"} 3');
  });

  it('keeps the job gauge to MAX_QUEUE_LABELS queues too, the rest summed under _other', async () => {
    const rows: QueueStateCount[] = [];
    for (let i = 0; i < MAX_QUEUE_LABELS + 3; i++)
      rows.push({ queue: `q${String(i).padStart(5, '0')}`, state: 'queued', count: 2 });
    const text = await metrics({ jobCounts: async () => rows }).scrape();
    const series = text.split('\n').filter((l) => l.startsWith('switchyard_jobs{'));
    expect(series).toHaveLength(MAX_QUEUE_LABELS + 1);
    expect(text).toContain(
      `switchyard_jobs{state="queued",queue="${OTHER_QUEUE}",node="n_test"} 6`,
    );
  });

  it('reads the notifier backlog from the source it is given', async () => {
    const m = metrics();
    expect(await m.scrape()).toContain('switchyard_notifier_backlog{node="n_test"} 0');
    m.setNotifierBacklog(async () => 17);
    expect(await m.scrape()).toContain('switchyard_notifier_backlog{node="n_test"} 17');
  });
});
