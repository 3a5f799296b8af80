/**
 * Text the databases cannot hold, made storable and given back exactly. A job's output, its
 * errors and its attributes may contain NUL (U+0000), which PostgreSQL's text and jsonb refuse,
 * and lone UTF-16 surrogates, which no UTF-8 column can represent (SQLite and PostgreSQL both
 * turn them into U+FFFD). Such text is escaped reversibly on its way in: U+FFFF (a noncharacter)
 * introduces four hex digits naming the code unit, so NUL is `\uffff0000`, a lone surrogate
 * `\uffffd800` and U+FFFF itself `\uffffffff`. Text without any of them, nearly all of it, is
 * stored as it is and costs one scan.
 *
 * JSON kept as text with its escapes (SQLite's JSON columns, PostgreSQL `json`) needs none of
 * this: JSON.stringify already writes NUL and lone surrogates as `\u` escapes. Where a value is
 * parsed by the database (PostgreSQL `jsonb`), its strings are escaped the same way.
 */

const ESCAPE = '\uffff';
/** What needs escaping: NUL, any surrogate (checked for pairing below), the escape itself. */
// eslint-disable-next-line no-control-regex -- NUL is what it looks for
const NEEDS_ESCAPE = /[\u0000\ud800-\udfff\uffff]/;

/** `s`, escaped where the database could not hold it; the same string when nothing needs it. */
export function encodeText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
    }
    if (c === 0 || (c >= 0xd800 && c <= 0xdfff) || c === 0xffff) {
      out += ESCAPE + c.toString(16).padStart(4, '0');
    } else {
      out += s[i];
    }
  }
  return out;
}

/** The inverse of encodeText. */
export function decodeText(s: string): string {
  if (!s.includes(ESCAPE)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ESCAPE) {
      const code = Number.parseInt(s.slice(i + 1, i + 5), 16);
      // A bare U+FFFF (text written before escaping existed) stays as it is.
      if (Number.isInteger(code) && /^[0-9a-f]{4}$/.test(s.slice(i + 1, i + 5))) {
        out += String.fromCharCode(code);
        i += 4;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

/** Applies `f` to every string of a JSON value, keys included; the same value when none changes. */
function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    // defineProperty, not assignment: a key such as `__proto__` stays an ordinary key.
    Object.defineProperty(out, f(key), {
      value: mapStrings(v, f),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * JSON text of `value` for a column the database parses (PostgreSQL jsonb): its strings
 * escaped by encodeText. Plain values (nearly all) are stringified once.
 */
export function storableJson(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  // JSON.stringify writes NUL and lone surrogates as \u escapes; U+FFFF stays as it is.
  if (!/\\u0000|\\ud[89a-f]|\uffff/i.test(text)) return text;
  return JSON.stringify(mapStrings(value, encodeText));
}

/** The inverse of storableJson, given the value parsed from that text. */
export function restoreJson(text: string, parsed: unknown): unknown {
  return text.includes(ESCAPE) ? mapStrings(parsed, decodeText) : parsed;
}

/**
 * The inverse of storableJson for a jsonb value that arrived nested in a `json` one (a row
 * turned into JSON by `json_agg`), which the connection's jsonb parser never saw.
 */
export function restoreNested(value: unknown): unknown {
  return restoreJson(JSON.stringify(value) ?? '', value);
}
