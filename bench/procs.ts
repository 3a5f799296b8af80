/**
 * Every child process the harness starts goes through here, so that all of them are killed at the
 * end, on an error, on Ctrl-C and on a timeout. Also reads a process's memory and CPU from /proc.
 */
import {
  fork,
  spawn,
  type ChildProcess,
  type ForkOptions,
  type SpawnOptions,
} from 'node:child_process';
import { readFileSync } from 'node:fs';

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return track(spawn(command, args, options));
}

export function forkTracked(module: string, args: string[], options: ForkOptions): ChildProcess {
  return track(fork(module, args, options));
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Signals a child (null: it was already asked to stop some other way), waits up to `graceMs` for
 * it to exit, then kills it.
 */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals | null = 'SIGTERM',
  graceMs = 5_000,
): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (signal !== null) child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>(
    (resolve) => (timer = setTimeout(() => resolve('late'), graceMs)),
  );
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

/** Kills every child still running, at once (SIGKILL). Safe to call from an exit handler. */
export function killAllChildren(): number {
  let n = 0;
  for (const child of children) {
    if (alive(child)) {
      child.kill('SIGKILL');
      n++;
    }
  }
  return n;
}

/** The number of children still running. */
export function runningChildren(): number {
  return [...children].filter(alive).length;
}

function statusField(pid: number, field: string): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Resident memory now (VmRSS) in bytes, or null if the process is gone. */
export function rssBytes(pid: number): number | null {
  return statusField(pid, 'VmRSS');
}

/** Peak resident memory (VmHWM) in bytes. */
export function peakRssBytes(pid: number): number | null {
  return statusField(pid, 'VmHWM');
}

/** Clock ticks per second of /proc/PID/stat times; 100 on Linux unless built otherwise. */
const CLK_TCK = 100;

/** CPU seconds (user + system) the process has used so far, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after its closing paren are plain.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Fields 14 (utime) and 15 (stime) of the full line are 12 and 13 here.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}
