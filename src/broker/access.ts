/**
 * Links that let a browser watch one job and nothing else: a token naming the job and when it
 * expires, signed with HMAC-SHA256 by a secret every node shares (config `monitor.secret`, or
 * one made at first start and kept in the store). A frontend asks for one
 * (`POST /api/v1/jobs/:id/monitor-token`) and hands it to the browser, so that the monitor can
 * face the public while client tokens stay private. Checked in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/store.js';

const SECRET_KEY = 'monitor_secret';

/** The longest a link may live: a week. */
export const MAX_ACCESS_TTL_S = 7 * 86_400;

export class JobAccess {
  constructor(private readonly secret: Buffer) {}

  /** The configured secret, else the one the store keeps (made and kept by the first node). */
  static async load(store: Store, configured: string | null): Promise<JobAccess> {
    if (configured !== null && configured !== '') return new JobAccess(Buffer.from(configured));
    let kept = await store.settingGet(SECRET_KEY);
    if (kept === undefined) {
      const made = randomBytes(32).toString('base64url');
      // Two nodes starting at once may both make one: the last write wins, and both read it back.
      await store.write((tx) => tx.settingSet(SECRET_KEY, made));
      kept = (await store.settingGet(SECRET_KEY)) ?? made;
    }
    return new JobAccess(Buffer.from(kept));
  }

  /** A token for watching `jobId` until `expiresAtMs` (rounded down to the second). */
  issue(jobId: number, expiresAtMs: number): string {
    const body = `${jobId}.${Math.floor(expiresAtMs / 1000)}`;
    return `${body}.${this.sign(body)}`;
  }

  /**
   * The job a token lets its bearer watch, or why it does not: malformed, badly signed (forged
   * or from another broker), or expired.
   */
  check(token: string, nowMs: number): { jobId: number } | { refused: string } {
    const m = /^([1-9][0-9]{0,15})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (m === null) return { refused: 'the access token is malformed' };
    const body = `${m[1]}.${m[2]}`;
    const given = Buffer.from(m[3]!, 'base64url');
    const expected = Buffer.from(this.sign(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { refused: 'the access token is not valid here' };
    if (Number(m[2]) * 1000 <= nowMs) return { refused: 'the access token has expired' };
    return { jobId: Number(m[1]) };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
