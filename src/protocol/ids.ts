/**
 * Ids and sequence numbers on the wire are decimal strings that must name a number JavaScript
 * holds exactly: 1 to 2^53−1 (Number.MAX_SAFE_INTEGER). Anything beyond is refused by the
 * schema, never rounded to a neighbouring id (`999999999999999999` is not job
 * 1000000000000000000, nor any other).
 */

const MAX = String(Number.MAX_SAFE_INTEGER);

/** Numbers of exactly `max.length` digits, without a leading zero, not above `max`. */
function notAbove(max: string): string {
  const alternatives: string[] = [];
  for (let i = 0; i < max.length; i++) {
    const digit = Number(max[i]);
    const lowest = i === 0 ? 1 : 0;
    if (digit > lowest) {
      const rest = max.length - i - 1;
      alternatives.push(
        `${max.slice(0, i)}[${lowest}-${digit - 1}]${rest > 0 ? `\\d{${rest}}` : ''}`,
      );
    }
  }
  alternatives.push(max);
  return alternatives.join('|');
}

/** 1 to 2^53−1, in decimal without leading zeros. */
export const ID_PATTERN = `^(?:[1-9]\\d{0,${MAX.length - 2}}|${notAbove(MAX)})$`;

/** 0 to 2^53−1: a sequence number or a cursor, where 0 means "from the start". */
export const SEQ_PATTERN = `^(?:0|[1-9]\\d{0,${MAX.length - 2}}|${notAbove(MAX)})$`;

/** What a schema error says of a bad id. */
export const ID_MESSAGE = `must be an id from 1 to ${MAX} (digits)`;
export const SEQ_MESSAGE = `must be a number from 0 to ${MAX} (digits)`;
