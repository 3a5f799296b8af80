/**
 * A V8 CPU profile (`node --cpu-prof`) summed up: where the broker's time went, by function
 * (self time), so that a run with --cpu-prof says it in its report without a profiler UI.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  fn: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  top: ProfileLine[];
}

/** The `count` functions with the most self time in the profile at `file`. */
export async function summarizeProfile(file: string, count = 25): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, ProfileLine>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) return;
    const where =
      frame.url === '' ? '' : `${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName}@${where}`;
    const line = self.get(key) ?? {
      fn: frame.functionName || '(anonymous)',
      where,
      ms: 0,
      percent: 0,
    };
    line.ms += micros / 1000;
    self.set(key, line);
    total += micros / 1000;
  });
  const top = [...self.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, count)
    .map((l) => ({ ...l, ms: Math.round(l.ms), percent: Math.round((1000 * l.ms) / total) / 10 }));
  return { file, totalMs: Math.round(total), top };
}
