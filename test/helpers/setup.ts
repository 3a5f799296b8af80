/**
 * Runs in every test file. A test file that leaves a child process, a socket or a server open
 * fails: resources open after the file's tests that were not open before them are a leak.
 */
import { afterAll, beforeAll, expect } from 'vitest';

const LEAKABLE = new Set([
  'TCPSocketWrap',
  'TCPServerWrap',
  'ProcessWrap',
  'PipeServerWrap',
  'UDPWrap',
]);

function openResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) {
    if (LEAKABLE.has(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

let before = new Map<string, number>();

beforeAll(() => {
  before = openResources();
});

afterAll(async () => {
  // Sockets closed in the last test need a turn of the event loop to be released.
  let leaked: string[] = [];
  for (let i = 0; i < 50; i++) {
    const now = openResources();
    leaked = [...now]
      .filter(([name, n]) => n > (before.get(name) ?? 0))
      .map(([name, n]) => `${name}×${n - (before.get(name) ?? 0)}`);
    if (leaked.length === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(leaked, 'processes or sockets left open by this test file').toEqual([]);
});
