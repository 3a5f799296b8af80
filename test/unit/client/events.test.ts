/** Parsing Server-Sent Events as the broker sends them, in any chunking. */
import { describe, expect, it } from 'vitest';
import {
  eventsParams,
  followEventStream,
  sseParser,
  type BrokerEventMessage,
  type EventStream,
} from '../../../src/client/events.js';

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

  it('gives each event its id line', () => {
    expect(parseAll(['id: 41\nevent: job:log\ndata: {"id":"2"}\n\n'])).toEqual([
      { name: 'job:log', data: { id: '2' }, id: 41 },
    ]);
  });
});

describe('eventsParams', () => {
  it('puts kinds, queue, job and the resume id in the query', () => {
    expect(eventsParams({ kinds: ['job', 'worker:up'], queue: 'q', job: '7' }, 12)).toEqual({
      kind: 'job,worker:up',
      queue: 'q',
      job: '7',
      since: '12',
    });
    expect(eventsParams({ kinds: [] }, undefined)).toEqual({});
  });
});

describe('followEventStream', () => {
  it('reopens an ended stream resuming after the last id seen, until closed', async () => {
    const opened: Array<number | undefined> = [];
    const ends: Array<() => void> = [];
    let nextId = 10;
    const open = (since: number | undefined, onEvent: (e: BrokerEventMessage) => void) => {
      opened.push(since);
      // Each stream delivers two events, then ends (the broker went away).
      for (let i = 0; i < 2; i++) onEvent({ name: 'job:log', data: {}, id: ++nextId });
      let end: () => void = () => undefined;
      const ended = new Promise<void>((r) => (end = r));
      ends.push(end);
      return Promise.resolve<EventStream>({ close: end, ended });
    };
    const seen: number[] = [];
    const stream = await followEventStream(open, 5, (e) => seen.push(e.id!));
    ends[0]!();
    await new Promise((r) => setTimeout(r, 400));
    expect(opened).toEqual([5, 12]);
    stream.close();
    await stream.ended;
    ends[1]!();
    await new Promise((r) => setTimeout(r, 400));
    expect(opened).toEqual([5, 12]);
    expect(seen).toEqual([11, 12, 13, 14]);
  });
});
