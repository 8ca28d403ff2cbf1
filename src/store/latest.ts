/**
 * The system metrics between the two most recent stored samples: what the recorder derived
 * on its last tick, read back by any process that opens the store (`kmpm status`, the
 * snapshot resource, alert listings).
 */
import { deriveSystem, type SystemValues } from '../analyze/derive.js';
import type { Snapshot } from '../types.js';
import type { SampleQuery } from './query.js';

export type LatestSystem =
  | { ts: number; values: SystemValues }
  | { ts: null; reason: 'no samples stored yet' | 'only one sample stored so far' };

/** How far back from the newest sample its predecessor is looked for. */
const PAIR_WINDOW_MS = 120_000;

export function latestSystemValues(query: SampleQuery): LatestSystem {
  const last = query.latestTimestamp();
  if (last === null) return { ts: null, reason: 'no samples stored yet' };
  const snaps = query.systemSnapshots(last - PAIR_WINDOW_MS, last).slice(-2);
  if (snaps.length < 2) return { ts: null, reason: 'only one sample stored so far' };
  const [a, b] = snaps as [Snapshot, Snapshot];
  return { ts: b.ts, values: deriveSystem(a, b) };
}
