/**
 * The store's one long-lived session with the server, apart from the pool: it LISTENs on the
 * schema's channel (what any node publishes reaches this node through it) and holds the
 * leadership advisory lock. Both belong to a session, not to a pooled connection that comes and
 * goes: a session-level advisory lock lives exactly as long as its connection, which is what
 * makes "the leader died" and "the lock is free" the same event.
 *
 * When the connection drops, leadership is lost at once (`lead()` answers false) and the session
 * reconnects in the background with growing pauses, LISTENing again; leadership must then be
 * taken again by a later `lead()`. Messages published while it was down are not replayed (a
 * leaky spot, admitted: NOTIFY keeps nothing for absent listeners).
 */
import { Client, type ClientConfig, type Notification } from 'pg';

/** Pauses between reconnection attempts: doubling from the first to the last. */
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export interface SessionOptions {
  config: ClientConfig;
  /** The LISTEN channel (a plain identifier). */
  channel: string;
  /** The leadership advisory lock key (decimal int8). */
  leadKey: string;
  /** Receives each notification's payload on the channel. */
  onMessage(payload: string): void;
  /** Told of connection failures the session recovers from by itself. */
  onError(error: Error): void;
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/** See the file comment. */
export class Session {
  private client: Client | undefined;
  private leading = false;
  private closed = false;
  private retryMs = RECONNECT_FIRST_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  /** A connection being made (at start or by a reconnect), so that there is never two. */
  private connecting: Promise<void> | undefined;
  /** Serializes lead() calls on the one connection. */
  private leadTail: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: SessionOptions) {}

  /** Connects and LISTENs; rejects (leaving nothing open) if it cannot. */
  async start(): Promise<void> {
    await this.connect();
  }

  private connect(): Promise<void> {
    this.connecting ??= this.openClient().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async openClient(): Promise<void> {
    const client = new Client(this.options.config);
    // Registered before connecting: an error event without a listener would crash the process.
    client.on('error', (error: Error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('the session connection ended')));
    client.on('notification', (n: Notification) => {
      if (n.channel === this.options.channel && n.payload !== undefined) {
        this.options.onMessage(n.payload);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.options.channel}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = RECONNECT_FIRST_MS;
  }

  /** The connection `client` dropped (or failed): leadership goes with it; reconnect. */
  private lost(client: Client, error: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.leading = false;
    client.removeAllListeners('notification');
    if (this.closed) return;
    this.options.onError(new Error(`lost the session connection: ${error.message}`));
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch((error: unknown) => {
        if (this.closed) return;
        this.options.onError(new Error(`cannot reconnect the session: ${messageOf(error)}`));
        this.scheduleReconnect();
      });
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * True while this session holds the leadership lock. Without it, tries to take it (never
   * waits for it); with it, checks the connection still stands, since a session that is gone
   * holds nothing. False while disconnected.
   */
  lead(): Promise<boolean> {
    const run = this.leadTail.then(() => this.leadOnce());
    this.leadTail = run.catch(() => undefined);
    return run;
  }

  private async leadOnce(): Promise<boolean> {
    const client = this.client;
    if (this.closed || client === undefined) return false;
    try {
      if (this.leading) {
        await client.query('SELECT 1');
      } else {
        const { rows } = await client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock($1::bigint) AS ok',
          [this.options.leadKey],
        );
        this.leading = rows[0]?.ok === true;
      }
    } catch (error) {
      this.lost(client, error instanceof Error ? error : new Error(String(error)));
      return false;
    }
    // The connection may have dropped while the query ran.
    return this.leading && this.client === client;
  }

  /** Gives up leadership and the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.connecting?.catch(() => undefined);
    await this.leadTail;
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    client.removeAllListeners('notification');
    // Ending the session frees its locks anyway; unlocking first frees the leadership before
    // close() resolves, whatever the server's exit path.
    if (this.leading) await client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    this.leading = false;
    await client.end().catch(() => undefined);
  }
}
