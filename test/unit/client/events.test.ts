/** Parsing Server-Sent Events as the broker sends them, in any chunking. */
import { describe, expect, it } from 'vitest';
import { sseParser, type BrokerEventMessage } from '../../../src/client/events.js';

function parseAll(chunks: string[]): BrokerEventMessage[] {
  const out: BrokerEventMessage[] = [];
  const feed = sseParser((e) => out.push(e));
  for (const c of chunks) feed(c);
  return out;
}

const stream =
  ': switchyard events\n\n' +
  'event: job:created\ndata: {"id":"1","state":"queued"}\n\n' +
  ': keepalive\n\n' +
  'event: job:state\ndata: {"id":"1","to":"running"}\n\n';

describe('sseParser', () => {
  it('yields each event with its name and JSON data, skipping comments', () => {
    expect(parseAll([stream])).toEqual([
      { name: 'job:created', data: { id: '1', state: 'queued' } },
      { name: 'job:state', data: { id: '1', to: 'running' } },
    ]);
  });

  it('gives the same events however the stream is cut into chunks', () => {
    const whole = parseAll([stream]);
    for (let size = 1; size < 20; size++) {
      const chunks = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.slice(i, i + size));
      expect(parseAll(chunks)).toEqual(whole);
    }
  });

  it('joins multi-line data, defaults the name to "message", and skips data that is not JSON', () => {
    expect(parseAll(['data: {"a":\ndata: 1}\n\n', 'event: x\ndata: not json\n\n'])).toEqual([
      { name: 'message', data: { a: 1 } },
    ]);
  });

  it('keeps an unfinished event until its blank line arrives', () => {
    const out: BrokerEventMessage[] = [];
    const feed = sseParser((e) => out.push(e));
    feed('event: job:log\ndata: {"id":"2"}\n');
    expect(out).toEqual([]);
    feed('\n');
    expect(out).toEqual([{ name: 'job:log', data: { id: '2' } }]);
  });
});
