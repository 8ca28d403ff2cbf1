/**
 * Where a run's CPU time came from:
 * - `rusage-children`: the growth of this process's cutime + cstime across the run, exact
 *   for the command and every descendant that was waited for;
 * - `rusage-children+orphans`: that, plus descendants that were orphaned or daemonized and
 *   never waited for, counted up to the poll after the command exited;
 * - `tree-samples`: the last live sample of the tree was higher (descendants that were never
 *   waited for and exited before the final poll); a lower bound;
 * - `tree-samples-concurrent`: another child of this process was reaped during the run, so
 *   cutime could not be attributed; the live samples alone, a lower bound.
 */
export type CpuSource =
  'rusage-children' | 'rusage-children+orphans' | 'tree-samples' | 'tree-samples-concurrent';

export interface CpuEvidence {
  /** cutime + cstime of this process after the command was reaped, minus before it started. */
  reapedTicks: number;
  /** Tree sample taken after the reap: only processes the command never waited for. */
  unreapedTicks: number;
  /** Tree sample at the last poll that still saw the command's own process. */
  lastLiveTicks: number;
  otherChildReaped: boolean;
}

/**
 * Combines the exact reaped CPU with the live samples. Each candidate is a lower bound
 * built from disjoint parts (a live process's cutime holds only dead children), so the
 * larger one is the better estimate and nothing is counted twice.
 */
export function combineCpu(e: CpuEvidence): { ticks: number; source: CpuSource } {
  if (e.otherChildReaped) {
    return {
      ticks: Math.max(e.lastLiveTicks, e.unreapedTicks),
      source: 'tree-samples-concurrent',
    };
  }
  const reaped = e.reapedTicks + e.unreapedTicks;
  if (e.lastLiveTicks > reaped) return { ticks: e.lastLiveTicks, source: 'tree-samples' };
  return {
    ticks: reaped,
    source: e.unreapedTicks > 0 ? 'rusage-children+orphans' : 'rusage-children',
  };
}
