/** The recorder's periodic tier work: roll up what is complete, then apply each retention. */
import type { MachineInfo } from '../types.js';
import type { Db } from './db.js';
import { pruneTier } from './retention.js';
import { rollupDays, rollupHours, rollupMinutes } from './rollup.js';

export const DEFAULT_MINUTE_RETENTION_MS = 30 * 24 * 3600_000;
export const DEFAULT_HOUR_RETENTION_MS = 2 * 365 * 24 * 3600_000;

export interface TierOptions {
  now: number;
  machine: MachineInfo;
  /** 1-minute rows kept this long (default 30 days). */
  minuteRetentionMs?: number;
  /** 1-hour rows kept this long (default 2 years); 1-day rows as long. */
  hourRetentionMs?: number;
  /** Apply the tiers' retention too (default true); the recorder does it less often. */
  prune?: boolean;
}

export interface TierReport {
  minutes: number;
  hours: number;
  days: number;
  pruned: number;
  /** A retention pass stopped at its batch limit with more rows due. */
  more: boolean;
}

export function maintainTiers(db: Db, opts: TierOptions): TierReport {
  const { now } = opts;
  const minutes = rollupMinutes(db, { now, machine: opts.machine }).buckets;
  const hours = rollupHours(db, { now }).buckets;
  const days = rollupDays(db, { now }).buckets;
  if (opts.prune === false) return { minutes, hours, days, pruned: 0, more: false };
  const hourCutoff = now - (opts.hourRetentionMs ?? DEFAULT_HOUR_RETENTION_MS);
  const m = pruneTier(db, '1m', now - (opts.minuteRetentionMs ?? DEFAULT_MINUTE_RETENTION_MS));
  const h = pruneTier(db, '1h', hourCutoff);
  const d = pruneTier(db, '1d', hourCutoff);
  return {
    minutes,
    hours,
    days,
    pruned: m.deleted + h.deleted + d.deleted,
    more: m.more || h.more || d.more,
  };
}
