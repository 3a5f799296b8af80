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
import type { Clock } from '../domain/clock.js';
import type { Store } from '../store/store.js';
import type { Committer } from './committer.js';
import type { Dispatcher } from './dispatcher.js';
import { brokerEventNames, type BrokerEvent, type EventBus } from './events.js';
import type { NeedsRegistry } from './needs.js';

/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; messages stay well below. */
const MAX_MESSAGE_BYTES = 6_500;
/**
 * An event too large for one message travels in pieces of its JSON text, at most this many
 * UTF-16 units each: escaped inside a message, a unit takes at most 6 bytes (a lone surrogate,
 * `\udXXX`), so a piece always fits.
 */
const PIECE_CHARS = 1_000;
/** Pieces of events not yet whole are kept this long, and for this many events at most. */
const PIECES_TTL_MS = 60_000;
const MAX_PARTIAL_EVENTS = 256;

export interface ClusterDeps {
  store: Store;
  committer: Committer;
  dispatcher: Dispatcher;
  needs: NeedsRegistry;
  events: EventBus;
  nodeId: string;
  logger: Logger;
  clock: Clock;
}

interface WakeMessage {
  from: string;
  needs: number[];
}

/** Whole events, or one piece of one event too large for a message. */
type EventMessage =
  | { from: string; events: BrokerEvent[] }
  | { from: string; piece: { id: number; i: number; n: number; text: string } };

export class ClusterLink {
  private outbox: BrokerEvent[] = [];
  private flushQueued = false;
  private unsubscribe: (() => void) | null = null;
  private pieceIds = 0;
  private readonly partial: Reassembler;

  constructor(private readonly deps: ClusterDeps) {
    this.partial = new Reassembler(() => deps.clock.now());
  }

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
    if (message.from === this.deps.nodeId) return;
    for (const event of this.partial.accept(message)) {
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
    const messages = pack(this.deps.nodeId, this.outbox.splice(0), () => ++this.pieceIds);
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

/**
 * Events as messages below the size limit, in order: as many whole events per message as fit,
 * and an event too large for one message in pieces (`nextId` names each such event).
 */
export function pack(from: string, events: readonly BrokerEvent[], nextId: () => number): string[] {
  const head = `{"from":${JSON.stringify(from)},"events":[`;
  const messages: string[] = [];
  let parts: string[] = [];
  let size = bytes(head) + 2;
  const close = () => {
    if (parts.length > 0) messages.push(`${head}${parts.join(',')}]}`);
    parts = [];
    size = bytes(head) + 2;
  };
  for (const event of events) {
    const json = JSON.stringify(event);
    const n = bytes(json) + 1;
    if (bytes(head) + 2 + n > MAX_MESSAGE_BYTES) {
      close();
      const id = nextId();
      const count = Math.ceil(json.length / PIECE_CHARS);
      for (let i = 0; i < count; i++) {
        const text = json.slice(i * PIECE_CHARS, (i + 1) * PIECE_CHARS);
        messages.push(JSON.stringify({ from, piece: { id, i, n: count, text } }));
      }
      continue;
    }
    if (size + n > MAX_MESSAGE_BYTES) close();
    parts.push(json);
    size += n;
  }
  close();
  return messages;
}

/**
 * Joins the pieces of large events back together. The pieces of one event are published in one
 * transaction, so they arrive in order; what stays incomplete (a node that died mid-way) is
 * dropped after a while, and never more than a bounded number of events is held.
 */
export class Reassembler {
  private readonly pending = new Map<string, { parts: string[]; got: number; since: number }>();

  constructor(private readonly now: () => number) {}

  /** The whole events a message completes. */
  accept(message: EventMessage): BrokerEvent[] {
    if ('events' in message) return Array.isArray(message.events) ? message.events : [];
    const piece = message.piece;
    if (
      typeof piece !== 'object' ||
      piece === null ||
      !Number.isSafeInteger(piece.n) ||
      !Number.isSafeInteger(piece.i) ||
      piece.i < 0 ||
      piece.i >= piece.n ||
      typeof piece.text !== 'string'
    ) {
      return [];
    }
    const key = `${message.from}:${piece.id}`;
    const now = this.now();
    let entry = this.pending.get(key);
    if (entry === undefined) {
      this.expire(now);
      entry = { parts: new Array<string>(piece.n), got: 0, since: now };
      this.pending.set(key, entry);
    }
    if (entry.parts[piece.i] === undefined) entry.got++;
    entry.parts[piece.i] = piece.text;
    if (entry.got < entry.parts.length) return [];
    this.pending.delete(key);
    return [JSON.parse(entry.parts.join('')) as BrokerEvent];
  }

  /** How many events wait for pieces (for tests). */
  get waiting(): number {
    return this.pending.size;
  }

  private expire(now: number): void {
    for (const [key, entry] of this.pending) {
      if (now - entry.since > PIECES_TTL_MS || this.pending.size >= MAX_PARTIAL_EVENTS)
        this.pending.delete(key);
      else break;
    }
  }
}
