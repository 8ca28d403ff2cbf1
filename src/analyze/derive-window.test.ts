import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { emptySnapshot } from '../collect/collector.js';
import { Store } from '../store/index.js';
import { readRawColumns } from '../store/raw-columns.js';
import type { CpuTimes, DiskCounters, NetCounters, Snapshot, SystemField } from '../types.js';
import { counterDelta, deriveCores, deriveSystem } from './derive.js';
import { DERIVE_FIELDS, deriveWindow } from './derive-window.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const CORES = 2;

/**
 * The derivation the columns must reproduce, spelled out over Snapshot objects with the
 * functions every other reader uses: deriveSystem, deriveCores and counterDelta.
 */
function expected(snaps: Snapshot[], from: number) {
  const metrics: Record<string, (number | null)[]> = {};
  const perCore: { ts: number[]; values: (number | null)[] }[] = [];
  const links = new Map<string, { ts: number[]; rx: (number | null)[]; tx: (number | null)[] }>();
  const ts: number[] = [];
  let busy = 0;
  const push = (k: string, v: number | null) => (metrics[k] ??= []).push(v);
  for (let i = 1; i < snaps.length; i++) {
    const a = snaps[i - 1]!;
    const b = snaps[i]!;
    if (b.ts <= from) continue;
    const dt = b.ts - a.ts;
    ts.push(b.ts);
    const v = deriveSystem(a, b);
    for (const [k, val] of Object.entries(v)) push(k, val);
    const running = b.system.procs_running;
    push('run_queue_per_core', running === null ? null : running / CORES);
    const sw = (s: Snapshot) =>
      s.system.pswpin === null || s.system.pswpout === null
        ? null
        : s.system.pswpin + s.system.pswpout;
    const swaps = counterDelta(sw(a), sw(b));
    push('swap_pages_per_second', swaps === null ? null : (swaps * 1000) / dt);
    push('oom_kills', counterDelta(a.system.oom_kill, b.system.oom_kill));
    const before = new Map(a.disks.map((d) => [d.name, d]));
    let queue: number | null = null;
    for (const d of b.disks) {
      const w = counterDelta(before.get(d.name)?.weighted_ms ?? null, d.weighted_ms);
      if (w !== null) queue = (queue ?? 0) + w / dt;
    }
    push('disk_queue_depth', queue);
    deriveCores(a, b).forEach((c, core) => {
      const p = (perCore[core] ??= { ts: [], values: [] });
      p.ts.push(b.ts);
      p.values.push(c);
    });
    const nets = new Map(a.nets.map((n) => [n.name, n]));
    for (const n of b.nets) {
      const p = nets.get(n.name);
      let l = links.get(n.name);
      if (!l) links.set(n.name, (l = { ts: [], rx: [], tx: [] }));
      const rx = p ? counterDelta(p.rx_bytes, n.rx_bytes) : null;
      const tx = p ? counterDelta(p.tx_bytes, n.tx_bytes) : null;
      l.ts.push(b.ts);
      l.rx.push(rx === null ? null : (rx * 1000) / dt);
      l.tx.push(tx === null ? null : (tx * 1000) / dt);
    }
    const cpu = v.cpu_percent ?? null;
    if (cpu !== null) busy += (cpu / 100) * CORES * (dt / 1000);
  }
  return { ts, metrics, perCore, links, busy };
}

/** A counter that mostly grows, sometimes stalls, and now and then goes back (a reset). */
const counter = (start: number) =>
  fc
    .array(fc.oneof(fc.nat(500), fc.constant(0), fc.integer({ min: -2000, max: -1 })), {
      minLength: 24,
      maxLength: 24,
    })
    .map((steps) => {
      let v = start;
      return steps.map((s) => (v = Math.max(0, v + s)));
    });

const maybeNull = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 6, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(null) });

const field = (start: number) =>
  fc.array(maybeNull(fc.nat(500)), { minLength: 24, maxLength: 24 }).map((steps) => {
    let v = start;
    return steps.map((s) => (s === null ? null : (v += s)));
  });

/** 24 snapshots at irregular times, with counters, gauges, cores and devices that come and go. */
const windows = fc.record({
  gaps: fc.array(fc.integer({ min: 200, max: 3000 }), { minLength: 24, maxLength: 24 }),
  fields: fc.record(
    Object.fromEntries(DERIVE_FIELDS.map((f) => [f, field(1000)])) as Record<
      SystemField,
      fc.Arbitrary<(number | null)[]>
    >,
  ),
  cores: fc.array(fc.tuple(counter(100), counter(100), counter(500), fc.boolean()), {
    minLength: CORES,
    maxLength: CORES,
  }),
  disks: fc.array(
    fc.tuple(
      counter(0),
      counter(0),
      counter(0),
      fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    ),
    {
      minLength: 1,
      maxLength: 3,
    },
  ),
  nets: fc.array(
    fc.tuple(counter(0), counter(0), fc.array(fc.boolean(), { minLength: 24, maxLength: 24 })),
    {
      minLength: 1,
      maxLength: 3,
    },
  ),
  from: fc.integer({ min: 0, max: 23 }),
});

type Window = typeof windows extends fc.Arbitrary<infer W> ? W : never;

function snapshots(w: Window): Snapshot[] {
  let t = T0;
  return w.gaps.map((gap, i) => {
    t += gap;
    const s = emptySnapshot(t);
    for (const f of DERIVE_FIELDS) s.system[f] = w.fields[f][i]!;
    s.system.mem_total_bytes = i % 7 === 3 ? 0 : s.system.mem_total_bytes;
    s.cores = [];
    w.cores.forEach(([user, sys, idle, sometimesMissing], core) => {
      // The last core sometimes not read (stored rows hold the cores read, by index).
      if (sometimesMissing && core === CORES - 1 && i % 5 === 2) return;
      const times: CpuTimes = {
        user: user[i]!,
        nice: 0,
        system: sys[i]!,
        idle: idle[i]!,
        iowait: i % 3,
        irq: 0,
        softirq: 0,
        steal: user[i]! % 7,
      };
      s.cores[core] = times;
    });
    s.disks = w.disks.flatMap(([rd, wr, io, listed], k): DiskCounters[] =>
      listed[i]
        ? [
            {
              name: `d${k}`,
              reads: rd[i]! >> 4,
              read_sectors: rd[i]!,
              read_ms: io[i]! >> 2,
              writes: wr[i]! >> 4,
              write_sectors: wr[i]!,
              write_ms: io[i]! >> 3,
              in_flight: 0,
              io_ms: io[i]!,
              weighted_ms: io[i]! * 2,
            },
          ]
        : [],
    );
    s.nets = w.nets.flatMap(([rx, tx, listed], k): NetCounters[] =>
      listed[i]
        ? [
            {
              name: k === 0 ? 'lo' : `eth${k}`,
              rx_bytes: rx[i]!,
              rx_packets: rx[i]! >> 6,
              rx_errs: tx[i]! % 5,
              rx_drop: rx[i]! % 3,
              tx_bytes: tx[i]!,
              tx_packets: tx[i]! >> 6,
              tx_errs: 0,
              tx_drop: tx[i]! % 2,
            },
          ]
        : [],
    );
    return s;
  });
}

describe('deriveWindow', () => {
  it('gives what deriveSystem and deriveCores give, snapshot by snapshot', () => {
    fc.assert(
      fc.property(windows, (w) => {
        const store = Store.open(tempDir());
        try {
          const written = snapshots(w);
          const writer = store.createWriter();
          for (const s of written) writer.write(s);
          const from = written[w.from]!.ts;
          const to = written.at(-1)!.ts;
          const stored = store.query.systemSnapshots(T0, to);
          const want = expected(stored, from);
          const got = deriveWindow(
            readRawColumns(store.db, T0, to, { fields: DERIVE_FIELDS, cores: true }),
            from,
            CORES,
          );
          expect(got.ts).toEqual(want.ts);
          for (const [k, values] of Object.entries(want.metrics)) {
            expect(got.metrics[k], k).toEqual(values);
          }
          expect(Object.keys(got.metrics).sort()).toEqual(
            want.ts.length ? Object.keys(want.metrics).sort() : Object.keys(got.metrics).sort(),
          );
          expect(got.perCore).toEqual(want.perCore);
          expect([...got.links]).toEqual([...want.links]);
          expect(got.busyCpuSeconds).toBe(want.busy);
        } finally {
          store.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('derives nothing from fewer than two snapshots', () => {
    const store = Store.open(tempDir());
    store.createWriter().write(emptySnapshot(T0));
    const got = deriveWindow(
      readRawColumns(store.db, T0 - 1000, T0 + 1000, { fields: DERIVE_FIELDS, cores: true }),
      T0 - 1000,
      CORES,
    );
    expect(got.ts).toEqual([]);
    expect(got.busyCpuSeconds).toBe(0);
    store.close();
  });
});
