import { describe, expect, it } from 'vitest';
import { combineCpu, type CpuEvidence } from './cpu.js';

const base: CpuEvidence = {
  reapedTicks: 40,
  unreapedTicks: 0,
  lastLiveTicks: 30,
  otherChildReaped: false,
};

describe('combineCpu', () => {
  it.each([
    ['a waited-for tree', {}, 40, 'rusage-children'],
    ['orphans added to the reaped CPU', { unreapedTicks: 15 }, 55, 'rusage-children+orphans'],
    ['a last sample above the reaped CPU', { lastLiveTicks: 70 }, 70, 'tree-samples'],
    ['equal candidates prefer rusage', { lastLiveTicks: 40 }, 40, 'rusage-children'],
    [
      'another child reaped meanwhile',
      { otherChildReaped: true, reapedTicks: 500, unreapedTicks: 5 },
      30,
      'tree-samples-concurrent',
    ],
    [
      'another child reaped, orphans above the last sample',
      { otherChildReaped: true, unreapedTicks: 35 },
      35,
      'tree-samples-concurrent',
    ],
  ] as const)('%s', (_, change, ticks, source) => {
    expect(combineCpu({ ...base, ...change })).toEqual({ ticks, source });
  });
});
