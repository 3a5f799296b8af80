/**
 * The filter of the job list and of actions on many jobs (src/protocol/api.ts `JobFilter`) as
 * the store's selector: parsed once here, so that both read it the same way.
 */
import { invalid } from '../domain/errors.js';
import type { JobState } from '../domain/job.js';
import type { JobFilter } from '../protocol/api.js';
import type { JobSelector } from '../store/store.js';

function time(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw invalid(`${field}: not a date-time: "${value}"`);
  return t;
}

/** The selector of a filter; `where` prefixes messages (`filter.`). */
export function selectorOf(filter: JobFilter, where = ''): JobSelector {
  const selector: JobSelector = {};
  if (filter.state !== undefined) selector.states = filter.state.split(',') as JobState[];
  if (filter.queue !== undefined) selector.queue = filter.queue;
  if (filter.type !== undefined) selector.type = filter.type;
  if (filter.worker !== undefined) selector.worker = filter.worker;
  if (filter.group !== undefined) selector.group = filter.group;
  if (filter.search !== undefined) selector.search = filter.search;
  const times = {
    createdAfter: time(`${where}createdAfter`, filter.createdAfter),
    createdBefore: time(`${where}createdBefore`, filter.createdBefore),
    finishedAfter: time(`${where}finishedAfter`, filter.finishedAfter),
    finishedBefore: time(`${where}finishedBefore`, filter.finishedBefore),
  };
  for (const [k, v] of Object.entries(times)) {
    if (v !== undefined) selector[k as keyof typeof times] = v;
  }
  if (filter.attr !== undefined) {
    const eq = filter.attr.indexOf('=');
    selector.attribute =
      eq < 0
        ? { key: filter.attr }
        : { key: filter.attr.slice(0, eq), value: filter.attr.slice(eq + 1) };
  }
  return selector;
}
