import { describe, expect, it, vi } from 'vitest';
import type { Snapshot } from '../types.js';
import type { CollectContext, Collector } from './collector.js';
import { Sampler } from './sampler.js';

/** A collector whose failures are scripted, to make isolation deterministic. */
class Scripted implements Collector {
  failing = false;
  closed = false;
  contexts: CollectContext[] = [];
  constructor(
    readonly name: string,
    private readonly fill: (snapshot: Snapshot) => void,
  ) {}
  collect(snapshot: Snapshot, ctx: CollectContext): void {
    this.contexts.push(ctx);
    if (this.failing) throw new Error(`${this.name} broke`);
    this.fill(snapshot);
  }
  close(): void {
    this.closed = true;
  }
}

function setup() {
  const load = new Scripted('loadavg', (s) => (s.system.load1 = 1.5));
  const broken = new Scripted('vmstat', (s) => (s.system.pgfault = 10));
  const last = new Scripted('meminfo', (s) => (s.system.mem_total_bytes = 1024));
  const onError = vi.fn();
  return { load, broken, last, onError, sampler: new Sampler([load, broken, last], onError) };
}

describe('Sampler', () => {
  it('runs collectors in order into one snapshot and reports each one', () => {
    const { sampler, load } = setup();
    const { snapshot, stats } = sampler.sample(1_700_000_000_000);
    expect(snapshot.ts).toBe(1_700_000_000_000);
    expect(snapshot.system).toMatchObject({ load1: 1.5, pgfault: 10, mem_total_bytes: 1024 });
    expect(snapshot.processes).toBeNull();
    expect(stats.map((s) => [s.name, s.ok])).toEqual([
      ['loadavg', true],
      ['vmstat', true],
      ['meminfo', true],
    ]);
    expect(stats.every((s) => s.durationMs >= 0 && !('error' in s))).toBe(true);
    expect(load.contexts[0]).toEqual({ tick: 0, now: 1_700_000_000_000 });
    expect(sampler.names).toEqual(['loadavg', 'vmstat', 'meminfo']);
  });

  it('isolates a failing collector and reports it once per run of failures', () => {
    const { sampler, broken, onError } = setup();
    sampler.sample(1);
    broken.failing = true;
    for (let i = 0; i < 3; i++) {
      const { snapshot, stats } = sampler.sample(2 + i);
      expect(snapshot.system.load1).toBe(1.5);
      expect(snapshot.system.pgfault).toBeNull();
      expect(snapshot.system.mem_total_bytes).toBe(1024);
      expect(stats[1]).toMatchObject({ name: 'vmstat', ok: false, error: 'vmstat broke' });
      expect(stats[1]?.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError).toHaveBeenCalledWith(
      'vmstat',
      expect.objectContaining({ message: 'vmstat broke' }),
    );

    broken.failing = false;
    expect(sampler.sample(10).stats[1]?.ok).toBe(true);
    broken.failing = true;
    sampler.sample(11);
    sampler.sample(12);
    expect(onError).toHaveBeenCalledTimes(2);
  });

  it('counts ticks and hands each collector the tick number', () => {
    const { sampler, last } = setup();
    expect(sampler.tick).toBe(0);
    sampler.sample(1);
    sampler.sample(2);
    expect(sampler.tick).toBe(2);
    expect(last.contexts.map((c) => c.tick)).toEqual([0, 1]);
  });

  it('reports non-Error throws by their text', () => {
    const odd: Collector = {
      name: 'odd',
      collect() {
        throw 'just a string';
      },
    };
    const { stats } = new Sampler([odd]).sample(0);
    expect(stats[0]).toMatchObject({ ok: false, error: 'just a string' });
  });

  it('closes every collector, reporting one that fails to close', () => {
    const { sampler, load, last, onError } = setup();
    const stubborn: Collector = {
      name: 'stubborn',
      collect() {},
      close() {
        throw new Error('cannot close');
      },
    };
    const plain: Collector = { name: 'plain', collect() {} };
    const all = new Sampler([load, stubborn, plain, last], onError);
    all.close();
    expect(load.closed && last.closed).toBe(true);
    expect(onError).toHaveBeenCalledWith('stubborn', expect.any(Error));
    sampler.close();
  });
});
