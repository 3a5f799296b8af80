import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { warningsLogger, type Logger } from '../../../src/worker/logger.js';

function capture(): { lines: string[]; stream: { write(text: string): void } } {
  const lines: string[] = [];
  return { lines, stream: { write: (text) => lines.push(text) } };
}

describe("the SDK's default logger", () => {
  it('writes warnings and errors, one line each, and drops debug and info', () => {
    const { lines, stream } = capture();
    const log = warningsLogger(stream);
    log.debug({ jobId: '1' }, 'job started');
    log.info('welcomed by broker');
    log.warn('the broker stopped answering; reconnecting');
    log.error({ code: 'unauthorized', fatal: true }, 'bad token');
    expect(lines).toEqual([
      'switchyard warn: the broker stopped answering; reconnecting\n',
      'switchyard error: bad token code=unauthorized fatal=true\n',
    ]);
  });

  it("adds a child's bindings to its lines and shows an error by its message", () => {
    const { lines, stream } = capture();
    const log = warningsLogger(stream).child({ worker: 'w-1' });
    log.warn({ err: new Error('socket hang up'), dropped: 3 }, 'dropped job output');
    expect(lines).toEqual([
      'switchyard warn: dropped job output worker=w-1 err=socket hang up dropped=3\n',
    ]);
  });

  it('is satisfied by a pino logger, which the Worker accepts in its place', () => {
    const logger: Logger = pino({ level: 'silent' });
    expect(() => logger.child({ worker: 'w-1' }).warn({ a: 1 }, 'fine')).not.toThrow();
  });
});
