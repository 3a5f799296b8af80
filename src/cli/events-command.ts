/**
 * `switchyard events`: the broker's event feed, one line per event, until interrupted. It
 * reconnects when the broker goes away and resumes after the last event seen; a gap (events
 * the broker no longer had) is printed as such.
 */
import type { BrokerEventMessage } from '../client/events.js';
import { eventKinds } from '../protocol/events.js';
import { ID_MESSAGE, ID_PATTERN } from '../protocol/ids.js';
import { clientFor, type CliContext, type ClientFlags } from './context.js';
import { UsageError } from './errors.js';

/** The options of `switchyard events`. */
export interface EventsFlags extends ClientFlags {
  /** Repeatable; each may be comma-separated. */
  kind?: string[];
  queue?: string;
  job?: string;
  json?: boolean;
}

/** The kinds asked for, checked: names (`job:state`) or kinds (`job`). */
export function eventKindsOf(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const kinds = values.flatMap((v) => v.split(',').map((k) => k.trim())).filter((k) => k !== '');
  for (const k of kinds) {
    if (!eventKinds.includes(k))
      throw new UsageError(`--kind: "${k}" is not an event kind; one of ${eventKinds.join(', ')}`);
  }
  return kinds;
}

/**
 * Text from the broker, made safe for a terminal: control characters (escape sequences could
 * rewrite the screen) and line ends are shown escaped, and very long text is cut.
 */
function safe(value: unknown, max = 500): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  // eslint-disable-next-line no-control-regex
  const shown = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return shown.length > max ? `${shown.slice(0, max)}…` : shown;
}

/** One event as one line (no newline). */
export function eventLine(event: BrokerEventMessage): string {
  const d = event.data;
  const job = `job ${safe(d.id)}`;
  const what = ((): string => {
    switch (event.name) {
      case 'job:created':
        return `${job} created in ${safe(d.queue)} (${safe(d.type)}), ${safe(d.state)}`;
      case 'job:state': {
        const from = d.from === null ? '' : `${safe(d.from)} -> `;
        const worker =
          d.workerId === null || d.workerId === undefined ? '' : ` on ${safe(d.workerId)}`;
        const error = d.error as { message?: unknown } | null | undefined;
        const why = error?.message === undefined ? '' : `: ${safe(error.message)}`;
        return `${job} ${from}${safe(d.to)} (attempt ${safe(d.attempt)}${worker})${why}`;
      }
      case 'job:progress': {
        const p = (d.progress ?? {}) as { percent?: unknown; message?: unknown };
        const percent = typeof p.percent === 'number' ? `${p.percent}%` : '';
        const message = typeof p.message === 'string' ? safe(p.message) : '';
        return `${job} progress ${[percent, message].filter((s) => s !== '').join(' ')}`.trimEnd();
      }
      case 'job:log':
        return `${job} ${safe(d.stream)}: ${safe(d.data)}`;
      case 'job:attribute':
        return `${job} ${safe(d.key)}=${safe(d.value)}`;
      case 'job:deleted':
        return `${job} deleted`;
      case 'worker:up':
        return `worker ${safe(d.name)} (${safe(d.id)}) up`;
      case 'worker:down':
        return `worker ${safe(d.name)} (${safe(d.id)}) down: ${safe(d.reason)}`;
      case 'worker:status':
        return `worker ${safe(d.id)} ${safe(d.status)} (${safe(d.when)}, by ${safe(d.by)})`;
      case 'worker:schedule':
        return `worker ${safe(d.id)} sleep schedule ${d.schedule === null ? 'removed' : 'set'}`;
      case 'worker:queues':
        return `worker ${safe(d.id)} serves queues ${safe(d.queues)} types ${safe(d.types)}`;
      case 'worker:blocklisted':
        return `worker ${safe(d.id)} blocklisted for ${safe(d.type)} in ${safe(d.queue)} after ${safe(d.failures)} failures`;
      case 'worker:unblocked':
        return `worker ${safe(d.id)} unblocked for ${safe(d.type)} in ${safe(d.queue)}`;
      case 'worker:disconnected':
        return `worker ${safe(d.id)} disconnected by an ${safe(d.by)}`;
      case 'broker:frozen':
        return d.frozen === true ? 'broker frozen' : 'broker unfrozen';
      case 'backend:error':
        return `backend error: ${safe(d.message)}`;
      case 'schedule:fired':
        return `schedule ${safe(d.name)} fired job ${safe(d.jobId)}`;
      case 'schedule:skipped':
        return `schedule ${safe(d.name)} skipped ${safe(d.ticks)} tick(s): ${safe(d.reason)}`;
      case 'schedule:changed':
        return `schedule ${safe(d.name)} ${safe(d.change)}`;
      case 'gap':
        return typeof d.missed === 'number'
          ? `${d.missed} events missed after ${safe(d.after)}`
          : `events missed after ${safe(d.after)} (how many is not known)`;
      default:
        return safe(d);
    }
  })();
  return `${event.id === undefined ? '-' : event.id} ${safe(event.name, 40)} ${what}`;
}

/** Runs `switchyard events` until a stop signal. */
export async function eventsCommand(ctx: CliContext, flags: EventsFlags): Promise<void> {
  const kinds = eventKindsOf(flags.kind);
  if (flags.job !== undefined && !new RegExp(ID_PATTERN).test(flags.job))
    throw new UsageError(`--job: "${safe(flags.job, 40)}" ${ID_MESSAGE}`);
  const client = clientFor(ctx, flags);
  const print = (event: BrokerEventMessage) =>
    ctx.stdout.write(
      flags.json === true
        ? `${JSON.stringify({ id: event.id ?? null, name: event.name, data: event.data })}\n`
        : `${eventLine(event)}\n`,
    );
  const stream = await client.events(
    {
      ...(kinds === undefined ? {} : { kinds }),
      ...(flags.queue === undefined ? {} : { queue: flags.queue }),
      ...(flags.job === undefined ? {} : { job: flags.job }),
    },
    print,
  );
  const off = ctx.onStopSignal(() => stream.close());
  try {
    await stream.ended;
  } finally {
    off();
  }
}
