import { describe, expect, it } from 'vitest';
import { parseIsoTime } from './time.js';

describe('parseIsoTime', () => {
  it.each([
    ['2026-11-26T08:00:00Z', Date.UTC(2026, 10, 26, 8)],
    ['2026-11-26T08:00Z', Date.UTC(2026, 10, 26, 8)],
    ['2026-11-26T10:00:00.250+02:00', Date.UTC(2026, 10, 26, 8, 0, 0, 250)],
    ['2024-02-29T00:00:00-0500', Date.UTC(2024, 1, 29, 5)],
  ])('%s', (value, want) => expect(parseIsoTime(value)).toBe(want));

  it.each([
    '2026-02-30T00:00:00Z', // no such day
    '2025-02-29T00:00:00Z', // not a leap year
    '2026-13-01T00:00:00Z',
    '2026-11-26T24:00:00Z',
    '2026-11-26T08:60:00Z',
    '2026-11-26T08:00:61Z',
    '2026-11-26T08:00:00', // no zone
    '2026-11-26T08:00:00+25:00',
    '2026-11-26',
    'yesterday',
    '',
  ])('rejects %s', (value) => expect(parseIsoTime(value)).toBeNull());
});
