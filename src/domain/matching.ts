/**
 * Capability matching with ReCodEx's rules (contract, see DESIGN.md "Matching"). Pure.
 *
 * A job's `requires` maps label → value. A worker matches when every key is satisfied:
 * - the worker has the label and one of its values equals the required value;
 * - `threads=N` is satisfied by a worker whose `threads` is a whole number ≥ N;
 * - `hwgroup=a|b` is satisfied by a worker whose `hwgroup` is a or b;
 * - a label the worker does not have never matches;
 * - keys beginning with `meta.` are metadata: never matched.
 * No requirements match every worker. The worker must also handle the job's type and serve its
 * queue.
 */
import type { Labels, Requirements } from './job.js';

export const META_PREFIX = 'meta.';

/** What a worker says it can run. */
export interface Capabilities {
  labels: Labels;
  types: readonly string[];
  queues: readonly string[];
}

/** What a job needs: the part of a job that decides which workers can run it. */
export interface Needs {
  type: string;
  queue: string;
  requires: Requirements;
  /** Named concurrency limits (not matched: jobs taking other limits are other needs). */
  limits?: ReadonlyArray<{ name: string; units: number }>;
}

export function isMetaKey(key: string): boolean {
  return key.startsWith(META_PREFIX);
}

/** The requirements that take part in matching (and are sent to workers): no `meta.*` keys. */
export function matchedRequirements(requires: Requirements): Requirements {
  // fromEntries defines own keys, so even a parsed "__proto__" key is kept as a key.
  return Object.fromEntries(
    Object.keys(requires)
      .sort()
      .filter((key) => !isMetaKey(key))
      .map((key) => [key, requires[key] as string]),
  );
}

const WHOLE = /^\d+$/;

function satisfies(key: string, wanted: string, values: readonly string[] | undefined): boolean {
  if (values === undefined || values.length === 0) return false;
  if (key === 'threads') {
    if (!WHOLE.test(wanted)) return false;
    const need = Number(wanted);
    return values.some((v) => WHOLE.test(v) && Number(v) >= need);
  }
  if (key === 'hwgroup') {
    const groups = wanted.split('|');
    return values.some((v) => groups.includes(v));
  }
  return values.includes(wanted);
}

/** Whether a worker's labels satisfy every (non-meta) requirement. */
export function labelsMatch(labels: Labels, requires: Requirements): boolean {
  for (const [key, wanted] of Object.entries(requires)) {
    if (isMetaKey(key)) continue;
    // Own keys only: `labels.constructor` must not find Object's.
    if (!satisfies(key, wanted, Object.hasOwn(labels, key) ? labels[key] : undefined)) return false;
  }
  return true;
}

/** Whether a worker can run a job: its type, its queue and all its requirements. */
export function canRun(worker: Capabilities, job: Needs): boolean {
  return (
    worker.types.includes(job.type) &&
    worker.queues.includes(job.queue) &&
    labelsMatch(worker.labels, job.requires)
  );
}

/**
 * Checks a submitted `requires` map for values that could never match, so that a typo is a
 * `400` at submission instead of a job that waits forever. Returns the message, or null.
 */
export function requirementProblem(requires: Requirements): string | null {
  for (const [key, value] of Object.entries(requires)) {
    if (key.length === 0) return 'requires: a label name may not be empty';
    if (typeof value !== 'string') return `requires.${key}: must be a string`;
    if (!isLabelText(key)) return `requires: label name ${JSON.stringify(key)} ${LABEL_TEXT}`;
    if (!isLabelText(value)) return `requires.${key}: ${LABEL_TEXT}`;
    if (isMetaKey(key)) continue;
    if (key === 'threads' && !WHOLE.test(value)) {
      return `requires.threads: must be a whole number, got "${value}"`;
    }
    if (key === 'hwgroup' && value.split('|').some((g) => g.length === 0)) {
      return `requires.hwgroup: must be one group or several joined by "|", got "${value}"`;
    }
  }
  return null;
}

/** What a label's text may not contain, for messages. */
export const LABEL_TEXT =
  'may not contain control characters (NUL included) or unpaired surrogates';

/** Control characters, and UTF-16 surrogates that are not part of a pair. */
const NOT_LABEL_TEXT =
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether a label name or value (of a worker or of a job's requirements) is plain text: labels
 * are identities that people read, type and match, so nothing invisible or unencodable.
 */
export function isLabelText(text: string): boolean {
  return !NOT_LABEL_TEXT.test(text);
}

/** Human-readable requirements, for "no worker matches" reasons. */
export function describeNeeds(job: Needs): string {
  const parts = [`type=${job.type}`, `queue=${job.queue}`];
  for (const [key, value] of Object.entries(matchedRequirements(job.requires))) {
    parts.push(key === 'threads' ? `threads>=${value}` : `${key}=${value}`);
  }
  return parts.join(', ');
}

/**
 * The canonical key of a job's needs. Jobs with equal keys match exactly the same workers, so
 * the dispatcher matches workers against keys (few) rather than jobs (many).
 */
export function needsKey(job: Needs): string {
  const base = [job.queue, job.type, matchedRequirements(job.requires)];
  // Without limits the key is what it always was: existing needs keep their ids.
  if (job.limits === undefined || job.limits.length === 0) return JSON.stringify(base);
  return JSON.stringify([...base, job.limits.map((l) => [l.name, l.units])]);
}

/** Parses `key=value` label arguments (`--label env=c --label env=python`) into Labels. */
export function parseLabels(pairs: readonly string[]): Labels {
  // A Map, not an object, so that `constructor=x` or `__proto__=x` are ordinary labels.
  const labels = new Map<string, string[]>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`label "${pair}" must have the form key=value`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const values = labels.get(key) ?? [];
    labels.set(key, values);
    if (!values.includes(value)) values.push(value);
  }
  return Object.fromEntries(labels);
}
