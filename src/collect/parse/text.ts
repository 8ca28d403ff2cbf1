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
  let start = from;
  while (isBlank(text.charCodeAt(start))) start++;
  let end = start;
  while (end < text.length && !isBlank(text.charCodeAt(end)) && text.charCodeAt(end) !== 10) {
    end++;
  }
  return toNumber(text.slice(start, end));
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

function isBlank(code: number): boolean {
  return code === 32 || code === 9;
}
