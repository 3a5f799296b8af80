import { describe, expect, it } from 'vitest';
import { expiry, TIMEOUT_MARGIN_MS } from '../../../src/broker/watchdog.js';
import type { HeldJob } from '../../../src/broker/endpoint/session.js';
import type { RunningJob } from '../../../src/store/store.js';
import { runningJob } from '../../helpers/fixtures.js';

const held = (over: Partial<RunningJob> = {}, heardAt = 1_000): HeldJob => ({
  stopping: false,
  heardAt,
  job: runningJob({ killGraceMs: 500, ...over }),
});

describe('expiry', () => {
  it('never ends an attempt without timeouts', () => {
    expect(expiry(held(), 10 ** 12)).toBeNull();
  });

  it('ends an attempt past its timeout, its kill grace and a margin for the worker to report', () => {
    const h = held({ timeoutMs: 3_000 });
    const deadline = 1_000 + 3_000 + 500 + TIMEOUT_MARGIN_MS;
    expect(expiry(h, deadline - 1)).toBeNull();
    expect(expiry(h, deadline)).toMatchObject({ code: 'timeout' });
    expect(expiry(h, deadline)?.message).toContain('timed out after 3000 ms');
  });

  it('ends an attempt silent for its silenceTimeout, counted from its last report', () => {
    const h = held({ options: { silenceTimeoutMs: 2_000 } }, 5_000);
    expect(expiry(h, 6_999)).toBeNull();
    expect(expiry(h, 7_000)).toMatchObject({ code: 'silence_timeout' });
    h.heardAt = 6_500;
    expect(expiry(h, 7_000)).toBeNull();
  });
});
