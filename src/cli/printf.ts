/**
 * The printf subset of `switchyard jobs --format FMT ATTR` (HTCondor's `condor_q -format`).
 * Pure.
 *
 * Conversions: %s %d %i %u %f %F %e %E %g %G %x %X %o %c and %%; flags `-` (left-justify),
 * `0` (zero-pad numbers), `+` and space (sign); a width; a precision (`.N`: decimals for %f/%e,
 * significant digits for %g, the most characters for %s). Each conversion formats the one value
 * of its attribute. A numeric conversion of a value that is not a number prints the value as
 * %s would, with the same width, rather than inventing a 0. Anything else is printed as it is.
 * Leaky spot: %f rounds exact ties away from zero as JavaScript does (2.5 → 3), where C rounds
 * the binary value to even (2.5 → 2).
 */

const SPEC = /%([-0+ ]*)(\d+)?(?:\.(\d*))?([sdiufFeEgGxXoc%])/g;

interface Spec {
  left: boolean;
  zero: boolean;
  plus: boolean;
  space: boolean;
  width: number;
  precision: number | null;
}

/** Formats `value` with every conversion of `format`. */
export function sprintf(format: string, value: unknown): string {
  return format.replace(
    SPEC,
    (_all, flags: string, width?: string, precision?: string, conv?: string) => {
      if (conv === '%') return '%';
      const spec: Spec = {
        left: flags.includes('-'),
        zero: flags.includes('0'),
        plus: flags.includes('+'),
        space: flags.includes(' '),
        width: width === undefined ? 0 : Number(width),
        precision: precision === undefined ? null : Number(precision || '0'),
      };
      return convert(conv ?? 's', spec, value);
    },
  );
}

function convert(conv: string, spec: Spec, value: unknown): string {
  if (conv === 's') return pad(truncate(asString(value), spec.precision), spec, false);
  if (conv === 'c') {
    const c = typeof value === 'number' ? String.fromCharCode(value) : asString(value).charAt(0);
    return pad(c, spec, false);
  }
  const n = asNumber(value);
  if (n === null) return pad(asString(value), { ...spec, zero: false }, false);
  let body: string;
  switch (conv) {
    case 'd':
    case 'i':
    case 'u':
      body = Math.abs(Math.trunc(n)).toString();
      break;
    case 'f':
    case 'F':
      body = Math.abs(n).toFixed(spec.precision ?? 6);
      break;
    case 'e':
    case 'E':
      body = exponential(Math.abs(n), spec.precision ?? 6);
      break;
    case 'g':
    case 'G':
      body = general(Math.abs(n), spec.precision ?? 6);
      break;
    case 'x':
    case 'X':
      body = Math.abs(Math.trunc(n)).toString(16);
      break;
    default: // 'o'
      body = Math.abs(Math.trunc(n)).toString(8);
  }
  if (conv === 'X' || conv === 'E' || conv === 'G') body = body.toUpperCase();
  // Integer conversions truncate first (-0.5 → 0); float ones keep a negative zero's sign.
  const integral = 'diuxXo'.includes(conv);
  const negative = integral ? Math.trunc(n) < 0 : n < 0 || Object.is(n, -0);
  const sign = negative ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  return pad(body, spec, true, sign);
}

function asString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function asNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function truncate(s: string, precision: number | null): string {
  return precision === null ? s : [...s].slice(0, precision).join('');
}

/** Pads to the width: left-justified, zero-padded after the sign, or right-justified. */
function pad(body: string, spec: Spec, numeric: boolean, sign = ''): string {
  const length = [...body].length + sign.length;
  const fill = Math.max(0, spec.width - length);
  if (spec.left) return sign + body + ' '.repeat(fill);
  if (numeric && spec.zero) return sign + '0'.repeat(fill) + body;
  return ' '.repeat(fill) + sign + body;
}

/** C's %e: at least two exponent digits (`1.500000e+02`). */
function exponential(n: number, precision: number): string {
  const [mantissa, exp] = n.toExponential(precision).split('e') as [string, string];
  const digits = exp.replace(/^[+-]/, '');
  return `${mantissa}e${exp.startsWith('-') ? '-' : '+'}${digits.padStart(2, '0')}`;
}

/** C's %g: the shorter of %e and %f for `precision` significant digits, trailing zeros removed. */
function general(n: number, precision: number): string {
  const p = precision === 0 ? 1 : precision;
  // The exponent after rounding to p digits (9.9999 with p=3 is 1.00e+01), read off the string.
  const exp = Number(n.toExponential(p - 1).split('e')[1]);
  const strip = (s: string) => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);
  if (exp < -4 || exp >= p) {
    const [mantissa, e] = exponential(n, p - 1).split('e') as [string, string];
    return `${strip(mantissa)}e${e}`;
  }
  return strip(n.toFixed(Math.max(0, p - 1 - exp)));
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  '"': '"',
  "'": "'",
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
};

/** Interprets the escapes \n \t \r \\ \" \' \a \b \f \v \0 of a format; others stay as written. */
export function unescapeFormat(format: string): string {
  return format.replace(/\\(.)/gs, (all, c: string) => ESCAPES[c] ?? all);
}
