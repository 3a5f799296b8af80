/**
 * What a node tells the other nodes sharing its store, and hears from them: wake-ups (jobs were
 * queued that a worker of another node may run) and events (for subscribers on every node).
 * Both travel through the store (PostgreSQL LISTEN/NOTIFY), inside a transaction, so nothing is
 * announced that did not commit. With a single-node store (SQLite) the link does nothing.
 *
 * Wake-ups are published by the dispatcher in the batch that queued the jobs; events are
 * collected for one turn of the event loop and published in one group-committed operation.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { Committer } from './committer.js';
import type { Dispatcher } from './dispatcher.js';
import { brokerEventNames, type BrokerEvent, type EventBus } from './events.js';
import type { NeedsRegistry } from './needs.js';

/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; messages stay well below. */
const MAX_MESSAGE_BYTES = 6_500;
/** A log line is cut into pieces of at most this many characters (6 bytes each, escaped). */
const LOG_PIECE_CHARS = 900;

export interface ClusterDeps {
  store: Store;
  committer: Committer;
  dispatcher: Dispatcher;
  needs: NeedsRegistry;
  events: EventBus;
  nodeId: string;
  logger: Logger;
}

interface WakeMessage {
  from: string;
  needs: number[];
}

interface EventMessage {
  from: string;
  events: BrokerEvent[];
}

export class ClusterLink {
  private outbox: BrokerEvent[] = [];
  private flushQueued = false;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: ClusterDeps) {}

  get active(): boolean {
    return this.unsubscribe !== null;
  }

  start(): void {
    const { store, events } = this.deps;
    if (!store.capabilities.multiNode || this.active) return;
    this.unsubscribe = store.subscribe((channel, payload) => {
      try {
        if (channel === 'wake') this.onWake(JSON.parse(payload) as WakeMessage);
        else this.onEvents(JSON.parse(payload) as EventMessage);
      } catch (err) {
        this.deps.logger.warn({ err, channel }, 'ignored a malformed message from another node');
      }
    });
    events.forwardTo((event) => this.send(event));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.deps.events.forwardTo(null);
  }

  private onWake(message: WakeMessage): void {
    if (message.from === this.deps.nodeId || !Array.isArray(message.needs)) return;
    const { needs, dispatcher, logger } = this.deps;
    const ids = message.needs.filter((id) => Number.isSafeInteger(id));
    if (ids.every((id) => needs.get(id) !== undefined)) {
      dispatcher.queuedElsewhere(ids);
      return;
    }
    // Needs first seen on another node: learn them, then match them against our workers.
    needs
      .load()
      .then(() => dispatcher.queuedElsewhere(ids))
      .catch((err: unknown) => logger.error({ err }, 'loading needs from the store failed'));
  }

  private onEvents(message: EventMessage): void {
    if (message.from === this.deps.nodeId || !Array.isArray(message.events)) return;
    for (const event of message.events) {
      if (brokerEventNames.includes(event.name)) this.deps.events.emitRemote(event);
    }
  }

  private send(event: BrokerEvent): void {
    this.outbox.push(event);
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    const { messages, dropped } = pack(this.deps.nodeId, this.outbox.splice(0));
    if (dropped > 0)
      this.deps.logger.warn({ dropped }, 'events too large to forward to the other nodes');
    if (messages.length === 0) return;
    this.deps.committer
      .run(async (tx) => {
        for (const message of messages) await tx.publish('event', message);
      })
      .catch((err: unknown) =>
        this.deps.logger.warn({ err }, 'could not forward events to the other nodes'),
      );
  }
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Events as messages below the size limit; long log lines in pieces, in order. */
export function pack(
  from: string,
  events: readonly BrokerEvent[],
): { messages: string[]; dropped: number } {
  const head = `{"from":${JSON.stringify(from)},"events":[`;
  const messages: string[] = [];
  let parts: string[] = [];
  let size = bytes(head) + 2;
  let dropped = 0;
  const close = () => {
    if (parts.length > 0) messages.push(`${head}${parts.join(',')}]}`);
    parts = [];
    size = bytes(head) + 2;
  };
  for (const event of events.flatMap(split)) {
    const json = JSON.stringify(event);
    const n = bytes(json) + 1;
    if (size + n > MAX_MESSAGE_BYTES) close();
    if (bytes(head) + 2 + n > MAX_MESSAGE_BYTES) {
      dropped++;
      continue;
    }
    parts.push(json);
    size += n;
  }
  close();
  return { messages, dropped };
}

function split(event: BrokerEvent): BrokerEvent[] {
  if (event.name !== 'job:log' || event.data.data.length <= LOG_PIECE_CHARS) return [event];
  const pieces: BrokerEvent[] = [];
  const text = event.data.data;
  for (let i = 0; i < text.length;) {
    let end = Math.min(i + LOG_PIECE_CHARS, text.length);
    // Never cut a surrogate pair in two.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    pieces.push({ name: 'job:log', data: { ...event.data, data: text.slice(i, end) } });
    i = end;
  }
  return pieces;
}
