/**
 * ISO-8601 date-times with a zone (Z or ±hh:mm), checked field by field: Date.parse alone
 * would turn 2026-02-30 into 2 March instead of refusing it.
 */
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Epoch ms of an ISO-8601 time with a zone, or null when it is not one or names no real time. */
export function parseIsoTime(value: string): number | null {
  const m = ISO_8601.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s, , oh, om] = m
    .slice(1)
    .map((x) => (x === undefined ? 0 : Number(x))) as number[];
  if (
    mo! < 1 ||
    mo! > 12 ||
    d! < 1 ||
    d! > daysIn(y!, mo!) ||
    h! > 23 ||
    mi! > 59 ||
    s! > 59 ||
    oh! > 23 ||
    om! > 59
  ) {
    return null;
  }
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}
