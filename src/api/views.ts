/**
 * Store records → the API's JSON shapes (src/protocol/api.ts). One place, so that the REST
 * answers, the SDK and the dashboard agree.
 */
import { formatLimit } from '../domain/queues.js';
import type { Eta } from '../broker/queue-views.js';
import type { JobRecord, JobState } from '../domain/job.js';
import type { Block } from '../domain/blocklist.js';
import type { BlockBody, ClusterBody, JobBody, LogList, WorkerBody } from '../protocol/api.js';
import type { ClusterState } from './context.js';
import type { JobMessage, LogEntry } from '../store/store.js';
import type { WorkerSession } from '../broker/endpoint/session.js';
import type { BrokerEvent } from '../broker/events.js';

let lastMs = Number.NaN;
let lastIso = '';
/** ISO 8601; the jobs of one batch share their times, so the last answer is kept. */
const iso = (ms: number): string => {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
};
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function jobView(
  job: JobRecord,
  extra?: {
    reason?: string;
    eta?: Eta;
    deduplicated?: boolean;
    blockedWorkers?: string[];
    links?: { dependencies: Array<{ id: number; state: JobState }>; dependents: number[] };
  },
): JobBody {
  const options = job.options;
  return {
    id: String(job.id),
    type: job.type,
    queue: job.queue,
    state: job.state,
    payload: job.payload,
    requires: job.requires,
    meta: job.meta,
    priority: job.priority,
    maxAttempts: job.maxAttempts,
    attempt: job.attempt,
    requestFailures: job.requestFailures,
    timeout: job.timeoutMs === null ? null : job.timeoutMs / 1000,
    killSignal: job.killSignal,
    killGrace: job.killGraceMs / 1000,
    runAt: iso(job.runAt),
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    startedAt: isoOrNull(job.startedAt),
    finishedAt: isoOrNull(job.finishedAt),
    workerId: job.workerId,
    workerName: job.workerName,
    progress:
      job.progress === null
        ? null
        : {
            percent: job.progress.percent,
            message: job.progress.message,
            at: iso(job.progress.at),
          },
    attributes: job.attributes,
    result: job.result ?? null,
    error: job.error,
    attempts: job.attempts.map((a) => ({
      attempt: a.attempt,
      workerId: a.workerId,
      workerName: a.workerName,
      startedAt: iso(a.startedAt),
      finishedAt: iso(a.finishedAt),
      outcome: a.outcome,
      error: a.error,
    })),
    backoff:
      options?.backoff === undefined
        ? null
        : {
            type: options.backoff.type,
            delay: options.backoff.delayMs / 1000,
            maxDelay: options.backoff.maxDelayMs / 1000,
            jitter: options.backoff.jitter,
          },
    silenceTimeout:
      options?.silenceTimeoutMs === undefined ? null : options.silenceTimeoutMs / 1000,
    unique:
      options?.unique === undefined
        ? null
        : {
            key: options.unique.key,
            ...(options.unique.forMs === null ? {} : { for: options.unique.forMs / 1000 }),
            ...(options.unique.while === null ? {} : { while: options.unique.while }),
          },
    notify:
      options?.notify === undefined
        ? null
        : { url: options.notify.url, events: [...options.notify.events] },
    hold:
      job.hold === null ? null : { reason: job.hold.reason, by: job.hold.by, at: iso(job.hold.at) },
    errorGroup: job.errorGroup,
    group: job.group,
    limits: options?.limits === undefined ? [] : options.limits.map(formatLimit),
    ...(extra?.links !== undefined
      ? {
          dependencies: extra.links.dependencies.map((d) => ({ id: String(d.id), state: d.state })),
          dependents: extra.links.dependents.map(String),
        }
      : {}),
    ...(extra?.reason !== undefined ? { reason: extra.reason } : {}),
    ...(extra?.eta !== undefined
      ? { eta: { at: isoOrNull(extra.eta.at), ahead: extra.eta.ahead, rate: extra.eta.rate } }
      : {}),
    ...(extra?.deduplicated !== undefined ? { deduplicated: extra.deduplicated } : {}),
    ...(extra?.blockedWorkers !== undefined && extra.blockedWorkers.length > 0
      ? { blockedWorkers: extra.blockedWorkers }
      : {}),
  };
}

/** A page of a job's output; `full` when more may follow (then it names where to go on). */
export function logsView(entries: readonly LogEntry[], full: boolean, job: JobRecord): LogList {
  const last = entries[entries.length - 1];
  return {
    logs: entries.map((e) => ({
      seq: String(e.seq),
      attempt: e.attempt,
      stream: e.stream,
      at: iso(e.at),
      data: e.data,
    })),
    nextCursor: full && last ? String(last.seq) : null,
    dropped:
      job.outputDropped > 0
        ? { bytes: job.outputDropped, after: String(job.outputGapAfter ?? 0) }
        : null,
  };
}

/** A block as the API shows it. */
export const blockView = (b: Block): BlockBody => ({
  queue: b.queue,
  type: b.type,
  failures: b.failures,
  blockedAt: iso(b.blockedAt),
});

export function workerView(s: WorkerSession): WorkerBody {
  return {
    id: s.id,
    name: s.name,
    labels: s.capabilities.labels,
    types: [...s.capabilities.types],
    queues: [...s.capabilities.queues],
    slots: s.slots,
    running: [...s.held.keys()].map(String),
    state: s.state(),
    status: s.status,
    schedule: s.control.schedule,
    announced: { types: [...s.announced.types], queues: [...s.announced.queues] },
    blocklist: s.blocks.map(blockView),
    connectedAt: iso(s.connectedAt),
    lastSeenAt: iso(s.lastSeen),
    address: s.address,
    cpu: s.cpu,
    memory: s.memory,
  };
}

/** Live nodes first (oldest first), then the dead ones still on record, most recent first. */
export function clusterView(state: ClusterState): ClusterBody {
  const nodes = [...state.nodes].sort((a, b) =>
    a.alive !== b.alive
      ? a.alive
        ? -1
        : 1
      : a.alive
        ? a.startedAt - b.startedAt
        : b.heartbeatAt - a.heartbeatAt,
  );
  return {
    leader: state.leader,
    nodes: nodes.map((n) => ({
      id: n.id,
      address: n.address,
      startedAt: iso(n.startedAt),
      heartbeatAt: iso(n.heartbeatAt),
      alive: n.alive,
      leader: n.id === state.leader,
      self: n.id === state.nodeId,
      workers: state.workers
        .filter((w) => w.nodeId === n.id)
        .map((w) => ({
          id: w.id,
          name: w.name,
          slots: w.slots,
          address: w.address,
          lastSeenAt: iso(w.lastSeenAt),
        })),
    })),
  };
}

/**
 * A stored message as the API's JSON text (a JobMessageBody): the stored data is JSON already,
 * so it is put in as it is, not parsed and written again.
 */
export function messageJson(m: JobMessage): string {
  const data =
    m.kind === 'log'
      ? `{"stream":"${m.stream ?? 'stdout'}","text":${JSON.stringify(m.data)}}`
      : m.data;
  return (
    `{"seq":"${m.seq}","job":"${m.jobId}","kind":"${m.kind}","at":"${iso(m.at)}",` +
    `"attempt":${m.attempt === null ? 'null' : m.attempt},"data":${data}}`
  );
}

/** A page of stored messages as JSON text (a MessageList). */
export function messageListJson(messages: readonly JobMessage[], full: boolean): string {
  const next = full && messages.length > 0 ? `"${messages[messages.length - 1]!.seq}"` : 'null';
  return `{"messages":[${messages.map(messageJson).join(',')}],"next":${next}}`;
}

/**
 * A published message of a job (an event carrying a seq) as the API's JSON text: the same text
 * messageJson gives for the message once read back from the store.
 */
export function eventMessageJson(event: BrokerEvent): string | null {
  const of = (
    e: { id: number; seq: number; attempt: number; at: number },
    kind: JobMessage['kind'],
    data: string,
    stream?: 'stdout' | 'stderr',
  ): string =>
    messageJson({
      seq: e.seq,
      jobId: e.id,
      // A message about no attempt (submitted, promoted, held) is published with attempt 0.
      attempt: e.attempt > 0 ? e.attempt : null,
      at: e.at,
      kind,
      data,
      ...(stream !== undefined ? { stream } : {}),
    });
  switch (event.name) {
    case 'job:state': {
      const e = event.data;
      const data = {
        from: e.from,
        to: e.to,
        workerId: e.workerId,
        error: e.error,
        ...(e.result !== undefined ? { result: e.result } : {}),
        ...(e.hold !== undefined ? { hold: e.hold } : {}),
      };
      return of(e, 'state', JSON.stringify(data));
    }
    case 'job:progress': {
      const { at, ...data } = event.data.progress;
      return of({ ...event.data, at }, 'progress', JSON.stringify(data));
    }
    case 'job:attribute':
      return of(
        event.data,
        'attribute',
        JSON.stringify({ key: event.data.key, value: event.data.value }),
      );
    case 'job:log':
      return of(event.data, 'log', event.data.data, event.data.stream);
    default:
      return null;
  }
}
