/**
 * Layers point down (DESIGN.md "Kernel"): pure domain code imports nothing else; the stores
 * know nothing of the broker; the broker never reaches up into the API or the composition root;
 * the SDK (client, worker) loads nothing of the broker. Read off the source's imports, so that a
 * new import across a layer fails here, not in review.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** What each top-level folder (or root file) of src/ may import, besides itself. */
const allowed: Record<string, readonly string[]> = {
  domain: [],
  protocol: ['domain'],
  store: ['domain'],
  config: ['domain'],
  log: ['config'],
  broker: ['domain', 'protocol', 'store', 'config'],
  api: ['domain', 'protocol', 'store', 'config', 'broker'],
  main: ['domain', 'protocol', 'store', 'config', 'broker', 'api', 'version.ts'],
  client: ['domain', 'protocol'],
  worker: ['domain', 'protocol'],
  cli: ['domain', 'protocol', 'config', 'log', 'client', 'worker', 'main', 'version.ts'],
  'index.ts': ['client', 'worker', 'domain', 'protocol'],
  'version.ts': [],
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const layerOf = (file: string): string => relative(SRC, file).split(sep)[0]!;

/** The relative imports of a file (static and dynamic), resolved to files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
}

describe('layers', () => {
  const all = files(SRC);

  it('knows every top-level part of src/', () => {
    expect([...new Set(all.map(layerOf))].sort()).toEqual(Object.keys(allowed).sort());
  });

  it.each(Object.keys(allowed))('%s imports only what lies below it', (layer) => {
    const crossings: string[] = [];
    for (const file of all.filter((f) => layerOf(f) === layer)) {
      for (const target of importsOf(file)) {
        const to = layerOf(target);
        if (to !== layer && !allowed[layer]!.includes(to)) {
          crossings.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
        }
      }
    }
    expect(crossings).toEqual([]);
  });
});
