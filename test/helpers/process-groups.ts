/** What is left of a process group, for tests that prove a job's processes are gone (Linux). */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * The pids of the group's live processes. A zombie is dead: it only waits for its parent (often
 * init, which may take a moment) to reap it, and until then it keeps `kill(-pgid, 0)` succeeding.
 */
export function liveMembers(pgid: number): number[] {
  const live: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // After the command name in parentheses: state, ppid, pgrp, ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') live.push(Number(entry));
  }
  return live;
}

/** Waits (generously: the machine may be busy) until the group has no live process. */
export async function waitGroupGone(pgid: number, timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let live = liveMembers(pgid);
  while (live.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    live = liveMembers(pgid);
  }
  return live;
}
