/**
 * CPU and memory of the process groups of running jobs (a shell job runs in a group of its own),
 * read from /proc on Linux for the heartbeat: one pass over /proc per heartbeat, and only while
 * some job has a group. Elsewhere (no /proc) nothing is reported. CPU is the time the group's
 * live processes used since the last sample, in cores (1 = one core busy); a process that exited
 * between samples takes its time with it, so a group's CPU is a lower bound.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second and page size: the values of every Linux in use. */
const TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

export interface GroupUsage {
  cpu: number | null;
  /** Resident memory of the group's processes, bytes. */
  rss: number;
}

/** CPU ticks and resident pages per process group among `pgids`, from /proc. */
export function readGroups(
  pgids: ReadonlySet<number>,
): Map<number, { ticks: number; pages: number }> {
  const out = new Map<number, { ticks: number; pages: number }>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // The command name is in parentheses and may hold spaces: the fields follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields[2]);
    if (!pgids.has(pgrp)) continue;
    const ticks = Number(fields[11]) + Number(fields[12]);
    const pages = Number(fields[21]);
    if (!Number.isFinite(ticks) || !Number.isFinite(pages)) continue;
    const sum = out.get(pgrp) ?? { ticks: 0, pages: 0 };
    sum.ticks += ticks;
    sum.pages += pages;
    out.set(pgrp, sum);
  }
  return out;
}

/** Samples process groups, remembering each one's last ticks to turn them into CPU use. */
export class GroupSampler {
  private last = new Map<number, { ticks: number; at: number }>();

  sample(pgids: ReadonlySet<number>, now: number = Date.now()): Map<number, GroupUsage> {
    const out = new Map<number, GroupUsage>();
    if (pgids.size === 0) {
      this.last.clear();
      return out;
    }
    const read = readGroups(pgids);
    const next = new Map<number, { ticks: number; at: number }>();
    for (const [pgid, { ticks, pages }] of read) {
      const before = this.last.get(pgid);
      const seconds = before === undefined ? 0 : (now - before.at) / 1000;
      const cpu =
        before === undefined || seconds <= 0
          ? null
          : Math.max(0, (ticks - before.ticks) / TICKS_PER_SECOND / seconds);
      out.set(pgid, { cpu, rss: pages * PAGE_BYTES });
      next.set(pgid, { ticks, at: now });
    }
    this.last = next;
    return out;
  }
}
