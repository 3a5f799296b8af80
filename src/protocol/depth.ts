/**
 * How deep JSON from clients and workers may nest. JSON.parse takes any depth, but serializing
 * a value nested a few thousand levels deep overflows the stack (JSON.stringify is recursive),
 * and so do the databases' JSON functions: a 10 KB body of nested arrays would be a 500. Input
 * nested deeper than this is refused at the edge, naming where.
 */
export const MAX_JSON_DEPTH = 64;

const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether JSON text nests arrays and objects deeper than `max`, read off the text (strings
 * skipped) without building anything: cheap enough for every request body.
 */
export function nestsDeeperThan(text: string, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** Whether a value nests arrays and objects deeper than `max`; iterative, and free for scalars. */
export function valueNestsDeeperThan(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop() as object;
    const depth = depths.pop() as number;
    if (depth > max) return true;
    const children = Array.isArray(v) ? v : Object.values(v);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/**
 * The path (`.payload[0][0]`...) of the first value nested deeper than `max` inside `value`
 * (which is at depth 0), or null. Iterative: it must not overflow on what it checks.
 */
export function tooDeepAt(value: unknown, max: number = MAX_JSON_DEPTH): string | null {
  if (!valueNestsDeeperThan(value, max)) return null;
  const stack: Array<{ value: unknown; depth: number; path: string }> = [
    { value, depth: 0, path: '' },
  ];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item.value !== 'object' || item.value === null) continue;
    const depth = item.depth + 1;
    if (depth > max) return shorten(item.path);
    if (Array.isArray(item.value)) {
      for (let i = item.value.length - 1; i >= 0; i--)
        stack.push({ value: item.value[i], depth, path: `${item.path}[${i}]` });
    } else {
      const entries = Object.entries(item.value);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const step = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
        stack.push({ value: child, depth, path: `${item.path}${step}` });
      }
    }
  }
  return null;
}

/** A path of a thousand `[0]`s says nothing more than its start. */
function shorten(path: string): string {
  if (path.length <= 80) return path;
  const head = path.slice(0, 60);
  const cut = Math.max(head.lastIndexOf('['), head.lastIndexOf('.'));
  return `${path.slice(0, cut > 0 ? cut : 60)}...`;
}
