/**
 * Turns the figures of every run into the result: medians, Switchyard's ratio to each peer
 * (ratio > 1 means Switchyard is better, whether higher or lower is better), the targets of
 * issue 3 marked met or missed (issue 9's W6 and W7 have ratios, no targets); rendered as a
 * plain-text table and as Markdown. Variants
 * (Switchyard in other configurations) get a column of figures, but neither ratios nor targets.
 */
import type { ProfileSummary } from './profile.js';
import { formatNumber, formatRatio, median } from './stats.js';
import type { SystemRole } from './systems/types.js';
import type { Figure, Metric } from './workloads/types.js';

export interface SystemInfo {
  name: string;
  role: SystemRole;
  settings: string[];
  completionKnown: string | null;
  memoryNote: string;
}

export interface MetricResult {
  id: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower' | null;
  /** Median per system (or why there is none). */
  values: Record<string, Figure>;
  /** Every run's figure per system. */
  runs: Record<string, Figure[]>;
  /** The subject's ratio to each peer; > 1 means the subject is better. */
  ratios: Record<string, number | null>;
  target: string;
  status: 'met' | 'MISSED' | 'n/a' | '';
}

export interface Results {
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: { cpus: number; cpuModel: string; memoryGB: number; node: string; platform: string };
  options: Record<string, unknown>;
  subject: string | null;
  systems: SystemInfo[];
  metrics: MetricResult[];
  /** W5 and other statements, per system. */
  texts: Record<string, Record<string, string>>;
  notes: string[];
  profiles: string[];
  /** Where each profiled broker spent its time (self time by function). */
  profileSummaries: ProfileSummary[];
}

/** One figure from several runs: the median of the numbers, else the first reason. */
export function combine(runs: readonly Figure[]): Figure {
  const numbers = runs.filter((r): r is number => typeof r === 'number');
  if (numbers.length > 0) return median(numbers) ?? 'error';
  return runs.find((r) => r === 'timeout') ?? runs.find((r) => r === 'error') ?? 'n/a';
}

function holds(value: number, op: '<=' | '>=' | '<', limit: number): boolean {
  return op === '<=' ? value <= limit : op === '>=' ? value >= limit : value < limit;
}

export function evaluate(
  metric: Metric,
  runs: Record<string, Figure[]>,
  systems: readonly SystemInfo[],
): MetricResult {
  const values: Record<string, Figure> = {};
  for (const s of systems) values[s.name] = combine(runs[s.name] ?? []);
  const subject = systems.find((s) => s.role === 'subject');
  const peers = systems.filter((s) => s.role === 'peer');
  const ratios: Record<string, number | null> = {};
  const mine = subject ? values[subject.name] : undefined;
  for (const p of peers) {
    const theirs = values[p.name];
    ratios[p.name] =
      typeof mine === 'number' &&
      typeof theirs === 'number' &&
      mine > 0 &&
      theirs > 0 &&
      metric.better
        ? metric.better === 'higher'
          ? mine / theirs
          : theirs / mine
        : null;
  }

  const targets: string[] = [];
  const checks: boolean[] = [];
  const peerNumbers = peers
    .map((p) => values[p.name])
    .filter((v): v is number => typeof v === 'number');
  if (metric.rule !== undefined) {
    if (peerNumbers.length === 0) {
      targets.push(
        metric.rule === '2x' ? '≥2× best peer (no peer figure)' : '< best peer (no peer figure)',
      );
    } else if (metric.rule === '2x') {
      const bar = 2 * Math.max(...peerNumbers);
      targets.push(`≥2× best peer = ${formatNumber(bar)}`);
      checks.push(typeof mine === 'number' && mine >= bar);
    } else {
      const bar = Math.min(...peerNumbers);
      targets.push(`< best peer = ${formatNumber(bar)}`);
      checks.push(typeof mine === 'number' && mine < bar);
    }
  }
  if (metric.absolute !== undefined) {
    targets.push(metric.absolute.text);
    checks.push(typeof mine === 'number' && holds(mine, metric.absolute.op, metric.absolute.value));
  }
  if (metric.reference !== undefined) targets.push(`(issue's machine: ${metric.reference})`);
  const status: MetricResult['status'] =
    subject === undefined || checks.length === 0
      ? targets.length > 0
        ? 'n/a'
        : ''
      : checks.every(Boolean)
        ? 'met'
        : 'MISSED';
  return {
    id: metric.id,
    label: metric.label,
    unit: metric.unit,
    better: metric.better,
    values,
    runs,
    ratios,
    target: targets.join(' '),
    status,
  };
}

function cell(value: Figure | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'number' ? formatNumber(value) : value;
}

/** The table's rows: a header and one row per metric, plus W5's statement. */
function rows(results: Results): string[][] {
  const peers = results.systems.filter((s) => s.role === 'peer');
  const header = [
    'figure',
    'unit',
    ...results.systems.map((s) => s.name),
    ...peers.map((p) => `vs ${p.name}`),
    'target',
    'status',
  ];
  const out = [header];
  for (const m of results.metrics) {
    const better = m.better === 'higher' ? ' ↑' : m.better === 'lower' ? ' ↓' : '';
    out.push([
      m.label,
      m.unit + better,
      ...results.systems.map((s) => cell(m.values[s.name])),
      ...peers.map((p) => {
        const r = m.ratios[p.name];
        return r === null || r === undefined ? '' : formatRatio(r);
      }),
      m.target,
      m.status,
    ]);
  }
  if (results.systems.some((s) => results.texts[s.name]?.['w5.durable'] !== undefined)) {
    out.push([
      'W5 enqueue ack = durable commit',
      'yes/no',
      ...results.systems.map((s) => results.texts[s.name]?.['w5.durable'] ?? ''),
      ...peers.map(() => ''),
      '',
      '',
    ]);
  }
  return out;
}

function describe(results: Results, bullet: string): string[] {
  const lines: string[] = [];
  const subject = results.subject ?? 'the subject';
  lines.push(
    `Ratios (the "vs" columns) are ${subject}'s advantage over each peer: > 1 means it is better (faster, or lower latency/memory/CPU); ↑ higher is better, ↓ lower is better. Targets and status are ${subject}'s.`,
  );
  const measured = (workload: string): boolean =>
    results.metrics.some((m) => m.id.startsWith(`${workload}.`));
  if (measured('w6')) {
    lines.push(
      'W6: "during / no retry" is the submit→start latency of jobs submitted one at a time while the retry runs, over the same with the failed jobs stored and no retry running (1× = unaffected); how each system retries is under Configurations.',
    );
  }
  if (measured('w7')) {
    lines.push(
      'W7: "keyed / plain" is the rate of submissions each with its own uniqueness key over that of the same submissions without (100% = the key costs nothing); what each system\'s key means is under Configurations.',
    );
  }
  const variants = results.systems.filter((s) => s.role === 'variant').map((s) => s.name);
  if (variants.length > 0) {
    lines.push(
      `${variants.join(' and ')}: Switchyard in other configurations (see below), shown beside for comparison; no ratios or targets of their own, and not counted as peers.`,
    );
  }
  lines.push('');
  lines.push('What an enqueue acknowledgment promises (W5):');
  for (const s of results.systems) {
    const promise = results.texts[s.name]?.['w5.promise'];
    if (promise !== undefined) lines.push(`${bullet}${s.name}: ${promise}`);
  }
  lines.push('');
  lines.push('Configurations:');
  for (const s of results.systems) {
    lines.push(`${bullet}${s.name}:`);
    for (const line of s.settings) lines.push(`    - ${line}`);
    lines.push(
      `    - W2 completion known to the submitter: ${s.completionKnown ?? 'n/a (no mechanism)'}`,
    );
    lines.push(`    - W3 memory: ${s.memoryNote}`);
  }
  if (results.notes.length > 0) {
    lines.push('');
    lines.push('Notes:');
    for (const n of results.notes) lines.push(`${bullet}${n}`);
  }
  if (results.profiles.length > 0) {
    lines.push('');
    lines.push('CPU profiles of the Switchyard broker:');
    for (const p of results.profiles) lines.push(`${bullet}${p}`);
  }
  for (const summary of results.profileSummaries) {
    lines.push('');
    lines.push(`Self time in ${summary.file} (${summary.totalMs} ms sampled, top functions):`);
    lines.push('');
    for (const l of summary.top) {
      lines.push(
        `${bullet}${l.percent}% ${l.ms} ms ${l.fn}${l.where === '' ? '' : ` (${l.where})`}`,
      );
    }
  }
  return lines;
}

function heading(results: Results): string {
  const m = results.machine;
  return (
    `Switchyard benchmark, ${results.startedAt} (${results.durationSeconds.toFixed(0)} s); ` +
    `${m.cpus} × ${m.cpuModel}, ${m.memoryGB} GB, Node ${m.node}; ` +
    `options ${JSON.stringify(results.options)}`
  );
}

export function renderText(results: Results): string {
  const table = rows(results);
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => (r[c] ?? '').length)));
  const numeric = (c: number): boolean => c >= 2 && c < table[0]!.length - 2;
  const line = (r: string[]): string =>
    r
      .map((v, c) => (numeric(c) ? v.padStart(widths[c]!) : v.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  const out = [heading(results), '', line(table[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of table.slice(1)) out.push(line(r));
  out.push('', ...describe(results, '  - '));
  return out.join('\n') + '\n';
}

export function renderMarkdown(results: Results): string {
  const table = rows(results);
  const esc = (v: string): string => v.replace(/\|/g, '\\|');
  const out = [`# Benchmark results`, '', heading(results), ''];
  out.push(`| ${table[0]!.map(esc).join(' | ')} |`);
  out.push(
    `| ${table[0]!.map((_, c) => (c >= 2 && c < table[0]!.length - 2 ? '---:' : '---')).join(' | ')} |`,
  );
  for (const r of table.slice(1)) out.push(`| ${r.map(esc).join(' | ')} |`);
  out.push('', ...describe(results, '- '));
  return out.join('\n') + '\n';
}
