import { describe, expect, it } from 'vitest';
import type { Labels, Requirements } from '../../../src/domain/job.js';
import {
  META_PREFIX,
  canRun,
  describeNeeds,
  isMetaKey,
  labelsMatch,
  matchedRequirements,
  needsKey,
  parseLabels,
  requirementProblem,
  type Capabilities,
  type Needs,
} from '../../../src/domain/matching.js';

function worker(
  labels: Labels,
  types: string[] = ['shell'],
  queues: string[] = ['default'],
): Capabilities {
  return { labels, types, queues };
}

function job(requires: Requirements = {}, type = 'shell', queue = 'default'): Needs {
  return { type, queue, requires };
}

describe('labelsMatch: exact values', () => {
  it('matches a worker whose only value for the label equals the required value', () => {
    expect(labelsMatch({ env: ['c'] }, { env: 'c' })).toBe(true);
  });

  it('does not match a worker whose value differs', () => {
    expect(labelsMatch({ env: ['python'] }, { env: 'c' })).toBe(false);
  });

  it('compares values exactly: no prefix, substring or case-insensitive match', () => {
    expect(labelsMatch({ env: ['python3'] }, { env: 'python' })).toBe(false);
    expect(labelsMatch({ env: ['py'] }, { env: 'python' })).toBe(false);
    expect(labelsMatch({ env: ['C'] }, { env: 'c' })).toBe(false);
  });

  it('requires every key to be satisfied, not just one', () => {
    const labels = { env: ['c'], os: ['linux'] };
    expect(labelsMatch(labels, { env: 'c', os: 'linux' })).toBe(true);
    expect(labelsMatch(labels, { env: 'c', os: 'windows' })).toBe(false);
    expect(labelsMatch(labels, { env: 'java', os: 'linux' })).toBe(false);
  });

  it('treats "|" as an ordinary character outside hwgroup', () => {
    expect(labelsMatch({ env: ['c'] }, { env: 'c|python' })).toBe(false);
    expect(labelsMatch({ env: ['c|python'] }, { env: 'c|python' })).toBe(true);
  });

  it('treats ">=" semantics as threads-only: other numeric labels must be equal', () => {
    expect(labelsMatch({ memory: ['8'] }, { memory: '4' })).toBe(false);
    expect(labelsMatch({ memory: ['4'] }, { memory: '4' })).toBe(true);
  });
});

describe('labelsMatch: any-of values', () => {
  const labels = { env: ['c', 'python', 'java'] };

  it.each(['c', 'python', 'java'])('a worker with several env values matches env=%s', (value) => {
    expect(labelsMatch(labels, { env: value })).toBe(true);
  });

  it('a worker with several values matches none of the values it lacks', () => {
    expect(labelsMatch(labels, { env: 'rust' })).toBe(false);
  });
});

describe('labelsMatch: threads', () => {
  it('matches a worker with equal threads', () => {
    expect(labelsMatch({ threads: ['4'] }, { threads: '4' })).toBe(true);
  });

  it('matches a worker with more threads', () => {
    expect(labelsMatch({ threads: ['8'] }, { threads: '4' })).toBe(true);
  });

  it('compares numerically, not as strings', () => {
    expect(labelsMatch({ threads: ['10'] }, { threads: '9' })).toBe(true);
    expect(labelsMatch({ threads: ['9'] }, { threads: '10' })).toBe(false);
  });

  it('does not match a worker with fewer threads', () => {
    expect(labelsMatch({ threads: ['2'] }, { threads: '4' })).toBe(false);
  });

  it('matches when any one of several threads values is large enough', () => {
    expect(labelsMatch({ threads: ['2', '8'] }, { threads: '4' })).toBe(true);
    expect(labelsMatch({ threads: ['1', '2'] }, { threads: '4' })).toBe(false);
  });

  it.each(['four', '4.5', '-8', '', ' 8', '8x'])(
    'never matches a non-numeric worker value %j',
    (value) => {
      expect(labelsMatch({ threads: [value] }, { threads: '1' })).toBe(false);
    },
  );

  it.each(['four', '2.5', '-1', '', '>=2', '1e3'])(
    'never matches a non-numeric requirement %j',
    (wanted) => {
      expect(labelsMatch({ threads: ['1000000'] }, { threads: wanted })).toBe(false);
      expect(labelsMatch({ threads: [wanted] }, { threads: wanted })).toBe(false);
    },
  );

  it('threads=0 matches any worker with a whole-number threads label', () => {
    expect(labelsMatch({ threads: ['0'] }, { threads: '0' })).toBe(true);
    expect(labelsMatch({ threads: ['1'] }, { threads: '0' })).toBe(true);
  });

  it('a worker without a threads label does not match a threads requirement', () => {
    expect(labelsMatch({ env: ['c'] }, { threads: '1' })).toBe(false);
  });
});

describe('labelsMatch: hwgroup', () => {
  it('hwgroup=a|b matches a worker in group a', () => {
    expect(labelsMatch({ hwgroup: ['a'] }, { hwgroup: 'a|b' })).toBe(true);
  });

  it('hwgroup=a|b matches a worker in group b', () => {
    expect(labelsMatch({ hwgroup: ['b'] }, { hwgroup: 'a|b' })).toBe(true);
  });

  it('hwgroup=a|b does not match a worker in neither group', () => {
    expect(labelsMatch({ hwgroup: ['c'] }, { hwgroup: 'a|b' })).toBe(false);
  });

  it('hwgroup=a|b matches groups whole, not by prefix', () => {
    expect(labelsMatch({ hwgroup: ['a1'] }, { hwgroup: 'a|b' })).toBe(false);
  });

  it('a single hwgroup matches only that group', () => {
    expect(labelsMatch({ hwgroup: ['gpu1'] }, { hwgroup: 'gpu1' })).toBe(true);
    expect(labelsMatch({ hwgroup: ['gpu2'] }, { hwgroup: 'gpu1' })).toBe(false);
  });

  it('matches when any of the worker hwgroup values is among the wanted groups', () => {
    expect(labelsMatch({ hwgroup: ['x', 'b'] }, { hwgroup: 'a|b' })).toBe(true);
  });

  it('a worker without an hwgroup label does not match an hwgroup requirement', () => {
    expect(labelsMatch({ env: ['c'] }, { hwgroup: 'a|b' })).toBe(false);
  });
});

describe('labelsMatch: missing labels, no requirements, meta keys', () => {
  it('a label the worker does not have never matches', () => {
    expect(labelsMatch({ env: ['c'] }, { os: 'linux' })).toBe(false);
    expect(labelsMatch({}, { env: 'c' })).toBe(false);
  });

  it('a label with no values never matches', () => {
    expect(labelsMatch({ env: [] }, { env: 'c' })).toBe(false);
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__'])(
    'a requirement named like an Object.prototype member (%s) is a missing label, not a crash',
    (key) => {
      // A computed key, like JSON.parse of a request body, makes even "__proto__" an own key.
      const requires: Requirements = { [key]: 'x' };
      expect(Object.keys(requires)).toEqual([key]);
      expect(labelsMatch({}, requires)).toBe(false);
      expect(labelsMatch({ env: ['c'] }, requires)).toBe(false);
      const labels: Labels = { [key]: ['x'] };
      expect(labelsMatch(labels, requires)).toBe(true);
    },
  );

  it('no requirements match every worker, even one with no labels', () => {
    expect(labelsMatch({}, {})).toBe(true);
    expect(labelsMatch({ env: ['c'], threads: ['1'] }, {})).toBe(true);
  });

  it('meta.* keys are never matched, even when the worker lacks them', () => {
    expect(labelsMatch({}, { 'meta.owner': 'alice' })).toBe(true);
    expect(labelsMatch({ env: ['c'] }, { env: 'c', 'meta.owner': 'alice' })).toBe(true);
  });

  it('meta.* keys are never matched, even when the worker has a different value', () => {
    expect(labelsMatch({ 'meta.owner': ['bob'] }, { 'meta.owner': 'alice' })).toBe(true);
  });

  it('a meta.* key does not excuse the real requirements beside it', () => {
    expect(labelsMatch({ env: ['python'] }, { env: 'c', 'meta.owner': 'alice' })).toBe(false);
  });

  it('only the exact prefix "meta." marks metadata', () => {
    expect(META_PREFIX).toBe('meta.');
    expect(isMetaKey('meta.owner')).toBe(true);
    expect(isMetaKey('meta')).toBe(false);
    expect(isMetaKey('metadata')).toBe(false);
    expect(isMetaKey('Meta.owner')).toBe(false);
    expect(isMetaKey('x.meta.owner')).toBe(false);
    expect(labelsMatch({}, { metadata: 'x' })).toBe(false);
  });
});

describe('matchedRequirements', () => {
  it('strips meta.* keys and keeps the rest', () => {
    expect(
      matchedRequirements({ env: 'c', 'meta.owner': 'alice', threads: '4', 'meta.x': 'y' }),
    ).toEqual({
      env: 'c',
      threads: '4',
    });
  });

  it('returns the keys in sorted order', () => {
    expect(Object.keys(matchedRequirements({ z: '1', a: '2', m: '3' }))).toEqual(['a', 'm', 'z']);
  });

  it('returns an empty map for no or only-meta requirements', () => {
    expect(matchedRequirements({})).toEqual({});
    expect(matchedRequirements({ 'meta.a': 'b' })).toEqual({});
  });

  it('does not modify its argument', () => {
    const requires = { env: 'c', 'meta.owner': 'alice' };
    matchedRequirements(requires);
    expect(requires).toEqual({ env: 'c', 'meta.owner': 'alice' });
  });

  it('keeps a parsed "__proto__" requirement as an ordinary key', () => {
    const requires = JSON.parse('{"__proto__":"x","env":"c"}') as Requirements;
    const out = matchedRequirements(requires);
    expect(Object.keys(out)).toEqual(['__proto__', 'env']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});

describe('canRun', () => {
  it('runs a job whose type, queue and requirements the worker all satisfies', () => {
    expect(canRun(worker({ env: ['c'] }), job({ env: 'c' }))).toBe(true);
  });

  it('refuses a job whose type the worker does not handle', () => {
    expect(canRun(worker({ env: ['c'] }, ['http']), job({ env: 'c' }, 'shell'))).toBe(false);
  });

  it('refuses a job in a queue the worker does not serve', () => {
    expect(
      canRun(worker({ env: ['c'] }, ['shell'], ['gpu']), job({ env: 'c' }, 'shell', 'default')),
    ).toBe(false);
  });

  it('refuses a job whose requirements the worker does not meet, despite type and queue', () => {
    expect(canRun(worker({ env: ['python'] }), job({ env: 'c' }))).toBe(false);
  });

  it('needs both the type and the queue: each alone is not enough', () => {
    const w = worker({}, ['shell', 'http'], ['default', 'gpu']);
    expect(canRun(w, job({}, 'http', 'gpu'))).toBe(true);
    expect(canRun(w, job({}, 'render', 'gpu'))).toBe(false);
    expect(canRun(w, job({}, 'http', 'cpu'))).toBe(false);
  });

  it('a worker with no types or no queues runs nothing', () => {
    expect(canRun(worker({}, [], ['default']), job())).toBe(false);
    expect(canRun(worker({}, ['shell'], []), job())).toBe(false);
  });

  it('matches the type and queue names exactly', () => {
    expect(canRun(worker({}, ['shell'], ['default']), job({}, 'Shell'))).toBe(false);
    expect(canRun(worker({}, ['shell'], ['default']), job({}, 'shell', 'default2'))).toBe(false);
  });
});

describe('requirementProblem', () => {
  it('accepts valid requirements', () => {
    expect(requirementProblem({})).toBeNull();
    expect(
      requirementProblem({ env: 'c', threads: '4', hwgroup: 'a|b', 'meta.owner': 'alice' }),
    ).toBeNull();
    expect(requirementProblem({ threads: '0', hwgroup: 'gpu1' })).toBeNull();
  });

  it('names an empty label name', () => {
    expect(requirementProblem({ '': 'x' })).toMatch(/label name may not be empty/);
  });

  it('names a field whose value is not a string', () => {
    const problem = requirementProblem({ env: 4 } as unknown as Requirements);
    expect(problem).toMatch(/^requires\.env: /);
    expect(problem).toMatch(/must be a string/);
  });

  it.each(['four', '2.5', '-1', '', '1e3'])('names threads and the bad value %j', (value) => {
    const problem = requirementProblem({ threads: value });
    expect(problem).toMatch(/^requires\.threads: /);
    expect(problem).toContain(`"${value}"`);
  });

  it.each(['', '|', 'a|', '|a', 'a||b'])('names hwgroup and the bad value %j', (value) => {
    const problem = requirementProblem({ hwgroup: value });
    expect(problem).toMatch(/^requires\.hwgroup: /);
    expect(problem).toContain(`"${value}"`);
  });

  it('does not check the value of meta.* keys', () => {
    expect(requirementProblem({ 'meta.threads': 'many' })).toBeNull();
  });

  it('reports a problem among otherwise valid keys', () => {
    expect(requirementProblem({ env: 'c', threads: 'x' })).toMatch(/requires\.threads/);
  });
});

describe('describeNeeds', () => {
  it('lists type, queue and the sorted requirements, with threads as >=', () => {
    expect(describeNeeds(job({ threads: '4', env: 'c', hwgroup: 'a|b' }, 'shell', 'gpu'))).toBe(
      'type=shell, queue=gpu, env=c, hwgroup=a|b, threads>=4',
    );
  });

  it('leaves out meta.* keys', () => {
    expect(describeNeeds(job({ 'meta.owner': 'alice', env: 'c' }))).toBe(
      'type=shell, queue=default, env=c',
    );
  });

  it('gives only type and queue when there are no requirements', () => {
    expect(describeNeeds(job({}, 'http', 'web'))).toBe('type=http, queue=web');
  });
});

describe('needsKey', () => {
  it('is equal for equal needs regardless of key order', () => {
    expect(needsKey(job({ env: 'c', threads: '4', os: 'linux' }))).toBe(
      needsKey(job({ os: 'linux', threads: '4', env: 'c' })),
    );
  });

  it('ignores meta.* keys', () => {
    expect(needsKey(job({ env: 'c', 'meta.owner': 'alice' }))).toBe(needsKey(job({ env: 'c' })));
    expect(needsKey(job({ 'meta.owner': 'bob' }))).toBe(needsKey(job({})));
  });

  it('differs for a different queue', () => {
    expect(needsKey(job({}, 'shell', 'a'))).not.toBe(needsKey(job({}, 'shell', 'b')));
  });

  it('differs for a different type', () => {
    expect(needsKey(job({}, 'shell'))).not.toBe(needsKey(job({}, 'http')));
  });

  it('differs when queue and type are swapped', () => {
    expect(needsKey(job({}, 'a', 'b'))).not.toBe(needsKey(job({}, 'b', 'a')));
  });

  it('differs when the boundary between queue and type moves', () => {
    expect(needsKey(job({}, 'c', 'ab'))).not.toBe(needsKey(job({}, 'bc', 'a')));
  });

  it('differs for a different requirement value', () => {
    expect(needsKey(job({ env: 'c' }))).not.toBe(needsKey(job({ env: 'python' })));
  });

  it('differs for an extra requirement', () => {
    expect(needsKey(job({ env: 'c' }))).not.toBe(needsKey(job({ env: 'c', threads: '2' })));
  });

  it('differs when a key and a value trade places', () => {
    expect(needsKey(job({ a: 'b' }))).not.toBe(needsKey(job({ b: 'a' })));
  });

  it('differs for a parsed "__proto__" requirement, which matching enforces', () => {
    const requires = JSON.parse('{"__proto__":"x"}') as Requirements;
    expect(needsKey(job(requires))).not.toBe(needsKey(job({})));
  });
});

describe('parseLabels', () => {
  it('parses key=value pairs', () => {
    expect(parseLabels(['env=c', 'threads=4'])).toEqual({ env: ['c'], threads: ['4'] });
  });

  it('turns a repeated label into several values, in order', () => {
    expect(parseLabels(['env=c', 'env=python', 'env=java'])).toEqual({
      env: ['c', 'python', 'java'],
    });
  });

  it('collapses duplicate values', () => {
    expect(parseLabels(['env=c', 'env=c', 'env=python', 'env=c'])).toEqual({
      env: ['c', 'python'],
    });
  });

  it('keeps "=" inside a value', () => {
    expect(parseLabels(['opts=a=b=c'])).toEqual({ opts: ['a=b=c'] });
  });

  it('returns no labels for no pairs', () => {
    expect(parseLabels([])).toEqual({});
  });

  it.each(['env', '=c', '='])('throws on the bad pair %j, naming it', (pair) => {
    expect(() => parseLabels(['env=c', pair])).toThrow(
      `label "${pair}" must have the form key=value`,
    );
  });

  it('throws on an empty pair, naming it', () => {
    expect(() => parseLabels([''])).toThrow('label "" must have the form key=value');
  });

  it('parses labels named like Object.prototype members as ordinary labels', () => {
    const labels = parseLabels(['constructor=x', 'toString=y', 'toString=z', '__proto__=w']);
    expect(Object.keys(labels).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(labels['constructor']).toEqual(['x']);
    expect(labels['toString']).toEqual(['y', 'z']);
    expect(Object.getOwnPropertyDescriptor(labels, '__proto__')?.value).toEqual(['w']);
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
  });

  it('produces labels that match as the pairs say', () => {
    const labels = parseLabels(['env=c', 'env=python', 'threads=8', 'hwgroup=gpu1']);
    expect(labelsMatch(labels, { env: 'python', threads: '4', hwgroup: 'gpu1|gpu2' })).toBe(true);
    expect(labelsMatch(labels, { env: 'java' })).toBe(false);
  });
});
