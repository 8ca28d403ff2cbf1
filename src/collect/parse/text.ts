/**
 * Small helpers for the "key value" and "header line + value line" layouts of /proc text
 * files. They look keys up with indexOf instead of splitting the whole file, since most
 * files hold far more keys than we keep (vmstat has ~180 lines; we keep five).
 */

/** Offset just past `key` where key starts a line of text, or -1. */
export function lineKeyEnd(text: string, key: string): number {
  if (text.startsWith(key)) return key.length;
  const at = text.indexOf(`\n${key}`);
  return at < 0 ? -1 : at + 1 + key.length;
}

/** The number that follows `key` (after blanks) on the line that starts with it. */
export function numberAfterKey(text: string, key: string): number | null {
  const from = lineKeyEnd(text, key);
  return from < 0 ? null : numberAt(text, from);
}

/** Parses the blank-separated token at `from` (leading blanks skipped) as a number. */
export function numberAt(text: string, from: number): number | null {
  const start = skipBlanks(text, from);
  const end = tokenEnd(text, start);
  if (end === start) return null;
  const value = numberIn(text, start, end);
  return Number.isNaN(value) ? null : value;
}

/** Offset of the first character at or after `from` that is not a blank (space, tab). */
export function skipBlanks(text: string, from: number): number {
  let at = from;
  while (isBlank(text.charCodeAt(at))) at++;
  return at;
}

/** End of the token that starts at `from`: the next blank, newline or the end of text. */
export function tokenEnd(text: string, from: number): number {
  let end = from;
  while (end < text.length) {
    const code = text.charCodeAt(end);
    if (isBlank(code) || code === NEWLINE) break;
    end++;
  }
  return end;
}

/**
 * Number(text.slice(start, end)) without the slice for the common token, plain digits that
 * a double holds exactly; anything else (signs, decimals, long or odd tokens) goes through
 * Number. These parsers run every tick, and the slices were most of what they allocated.
 */
export function numberIn(text: string, start: number, end: number): number {
  if (end - start > MAX_EXACT_DIGITS || end === start) return Number(text.slice(start, end));
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - DIGIT_0;
    if (digit < 0 || digit > 9) return Number(text.slice(start, end));
    value = value * 10 + digit;
  }
  return value;
}

/**
 * Reads up to `out.length` blank-separated numbers from `from` to the end of its line into
 * `out` (Number semantics: NaN for a token that is not a number) and returns how many
 * there were, so that callers reuse one array instead of splitting lines into tokens.
 */
export function numbersOnLine(text: string, from: number, out: number[]): number {
  let at = from;
  let n = 0;
  while (n < out.length) {
    at = skipBlanks(text, at);
    const end = tokenEnd(text, at);
    if (end === at) break;
    out[n++] = numberIn(text, at, end);
    at = end;
  }
  return n;
}

/** Number(token), but null for an empty or non-numeric token instead of 0 or NaN. */
export function toNumber(token: string | undefined): number | null {
  if (token === undefined || token === '') return null;
  const value = Number(token);
  return Number.isNaN(value) ? null : value;
}

/** Whitespace-separated tokens of one line. */
export function tokens(line: string): string[] {
  const trimmed = line.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/);
}

const NEWLINE = 10;
const DIGIT_0 = 48;
/** Any 15-digit integer is below 2^53, so summing its digits in a double is exact. */
const MAX_EXACT_DIGITS = 15;

function isBlank(code: number): boolean {
  return code === 32 || code === 9;
}
