/** Small JSON-over-HTTP helpers for tests that speak the REST API directly. */
import type { JobBody } from '../../src/protocol/api.js';

export interface Reply<T = Record<string, unknown>> {
  status: number;
  json: T & { error?: { code: string; message: string } };
}

export async function api<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Reply<T>['json'] };
}

export async function submit(base: string, job: Record<string, unknown>): Promise<JobBody> {
  const r = await api<JobBody>(base, 'POST', '/api/v1/jobs', job);
  if (r.status !== 201) throw new Error(`submit answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json;
}

export async function getJob(base: string, id: string): Promise<JobBody> {
  const r = await api<JobBody>(base, 'GET', `/api/v1/jobs/${id}`);
  if (r.status !== 200)
    throw new Error(`get ${id} answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json;
}

/** Polls until `test` holds for the job; fails with the last state seen. */
export async function waitJob(
  base: string,
  id: string,
  test: (job: JobBody) => boolean = (j) => ['succeeded', 'failed', 'canceled'].includes(j.state),
  timeoutMs = 15_000,
): Promise<JobBody> {
  const deadline = Date.now() + timeoutMs;
  let job = await getJob(base, id);
  while (!test(job)) {
    if (Date.now() > deadline)
      throw new Error(`job ${id} did not get there in time; last: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 25));
    job = await getJob(base, id);
  }
  return job;
}

/** Waits until a condition holds, polling. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
