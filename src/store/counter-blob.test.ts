import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptySystem } from '../collect/collector.js';
import { HUNDREDTHS_FIELDS, SYSTEM_FIELDS } from '../types.js';
import { CounterBlobReader, coresOf, systemOf } from './counter-blob-reader.js';
import {
  CORE_MODES,
  COUNTER_BLOB_FORMAT,
  COUNTER_DELTA_FORMAT,
  COUNTER_SPARSE_FORMAT,
  CounterBlobError,
  CounterBlobWriter,
} from './counter-blob.js';

const FIELDS = SYSTEM_FIELDS.length;
const MODES = CORE_MODES.length;

/** Counters as the kernel gives them, and the odd value only the escape can hold. */
const value = fc.oneof(
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 6, arbitrary: fc.nat() },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) },
  { weight: 2, arbitrary: fc.constantFrom(Number.MAX_SAFE_INTEGER, 2 ** 53 - 3, 2 ** 31, 2 ** 32) },
  { weight: 1, arbitrary: fc.integer({ min: -1e15, max: -1 }) },
  {
    weight: 2,
    // -0 would come back as 0; Infinity takes the escape like any other float
    arbitrary: fc.double({ noNaN: true }).map((v) => (Object.is(v, -0) ? 0 : v)),
  },
);

/** What a reader gives for a stored value: NaN for null, averages out of hundredths. */
const asRead = (v: number | null, field: number) =>
  v === null ? NaN : HUNDREDTHS_FIELDS.has(SYSTEM_FIELDS[field]!) ? v / 100 : v;

/** A hand-made blob: format, fields, then optional cores, values given as varint bytes. */
function blob(...bytes: number[]): Buffer {
  return Buffer.from([COUNTER_BLOB_FORMAT, ...bytes]);
}

describe('counter blobs', () => {
  it('read back every stored value, null, integer or escaped float, and every core', () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: FIELDS, maxLength: FIELDS }),
        fc.array(fc.array(value, { minLength: MODES, maxLength: MODES }), { maxLength: 6 }),
        (system, cores) => {
          const reader = new CounterBlobReader();
          reader.read(new CounterBlobWriter().encodeStored(system, cores), true);
          expect(Array.from(reader.system)).toEqual(system.map(asRead));
          expect(reader.coreCount).toBe(cores.length);
          expect(Array.from(reader.cores.subarray(0, cores.length * MODES))).toEqual(
            cores.flat().map((v) => v ?? NaN),
          );
        },
      ),
    );
  });

  it('keep counters past 2^31 and up to 2^53 exact', () => {
    const writer = new CounterBlobWriter();
    const reader = new CounterBlobReader();
    for (const v of [2 ** 31 + 5, 2 ** 32 + 1, 2 ** 53 - 3, 2 ** 53 - 2, Number.MAX_SAFE_INTEGER]) {
      const system = new Array<number | null>(FIELDS).fill(null);
      system[0] = v;
      const stored = writer.encodeStored(system, [[v]]);
      reader.read(stored, true);
      expect([reader.system[0], reader.cores[0]]).toEqual([v, v]);
    }
    // the integer form up to 2^53 - 3 (8 bytes of varint), the escape beyond
    const one = (v: number) => writer.encodeStored([v], []).length;
    expect(one(2 ** 53 - 3) - one(0)).toBe(7);
    expect(one(2 ** 53 - 2) - one(0)).toBe(8);
  });

  it('store load and PSI averages as hundredths and read them back as given', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1_000_000 }), { minLength: 9, maxLength: 9 }), (k) => {
        const system = emptySystem();
        const averages = [...HUNDREDTHS_FIELDS] as (keyof typeof system)[];
        averages.forEach((f, i) => (system[f] = k[i]! / 100));
        system.cpu_user = 123_456_789;
        const reader = new CounterBlobReader();
        reader.read(new CounterBlobWriter().encode(system, []), false);
        expect(systemOf(reader, emptySystem())).toEqual(system);
        // what is stored is the integer: the same bytes as the hundredths given as stored
        const stored = SYSTEM_FIELDS.map((f) => {
          const v = system[f];
          return v !== null && HUNDREDTHS_FIELDS.has(f) ? k[averages.indexOf(f)]! : v;
        });
        expect(new CounterBlobWriter().encode(system, [])).toEqual(
          new CounterBlobWriter().encodeStored(stored, []),
        );
      }),
    );
  });

  it('give cores back as CpuTimes, and NaN as null', () => {
    const reader = new CounterBlobReader();
    const times = { user: 5, nice: 0, system: 3, idle: 2 ** 40, iowait: 1, irq: 0, softirq: 7 };
    reader.read(new CounterBlobWriter().encode(emptySystem(), [{ ...times, steal: NaN }]), true);
    expect(coresOf(reader)).toEqual([{ ...times, steal: null }]);
    expect(reader.field('cpu_user')).toBeNull();
  });

  it('yield null for fields and modes a blob does not have, and skip those it has beyond', () => {
    const reader = new CounterBlobReader();
    // two fields (7 and null), one core of three modes
    reader.read(blob(2, 9, 0, 1, 3, 2, 3, 4), true);
    expect(Array.from(reader.system)).toEqual([7, NaN, ...new Array<number>(FIELDS - 2).fill(NaN)]);
    expect(coresOf(reader)).toEqual([
      {
        user: 0,
        nice: 1,
        system: 2,
        idle: null,
        iowait: null,
        irq: null,
        softirq: null,
        steal: null,
      },
    ]);
    // a field and a mode more than known: read past them
    const extra = blob(
      FIELDS + 1,
      ...new Array<number>(FIELDS).fill(3),
      1,
      ...new Array<number>(8).fill(0),
      1,
      MODES + 1,
      ...new Array<number>(MODES).fill(4),
      5,
    );
    reader.read(extra, true);
    expect(Array.from(reader.system)).toEqual(SYSTEM_FIELDS.map((_, i) => asRead(1, i)));
    expect(Array.from(reader.cores.subarray(0, MODES))).toEqual(new Array(MODES).fill(2));
  });

  it('reads the system fields without the cores when not asked', () => {
    const writer = new CounterBlobWriter();
    const reader = new CounterBlobReader();
    reader.read(writer.encodeStored([1, 2], [[3], [4]]), true);
    reader.read(writer.encodeStored([5], [[6]]).subarray(0, 2 + FIELDS), false);
    expect([reader.system[0], reader.system[1]]).toEqual([5, NaN]);
    expect(reader.coreCount).toBe(2); // from the last read with cores
  });

  it('refuse an unknown format and a truncated blob', () => {
    const reader = new CounterBlobReader();
    expect(() => reader.read(Buffer.from([4, 0]), false)).toThrow(CounterBlobError);
    expect(() => reader.read(blob(2, 9), false)).toThrow(/truncated/);
    expect(() => reader.read(blob(1, 1, 0, 0), false)).toThrow(/truncated/);
    expect(() => reader.read(blob(1, 200), false)).toThrow(/truncated/);
  });

  it('encode into one buffer, grown when a machine has more cores than it holds', () => {
    const writer = new CounterBlobWriter();
    const a = writer.encodeStored([1], [[1]]);
    const b = writer.encodeStored([2], [[2]]);
    expect(b.buffer).toBe(a.buffer);
    const many = new Array<number[]>(200).fill(new Array<number>(MODES).fill(2 ** 40));
    const big = writer.encodeStored([3], many);
    const reader = new CounterBlobReader();
    reader.read(big, true);
    expect(reader.coreCount).toBe(200);
    expect(reader.cores[200 * MODES - 1]).toBe(2 ** 40);
  });
});

/** How one value moves from a frame to the next. */
const change = fc.oneof(
  { weight: 6, arbitrary: fc.constant((v: number | null) => v) },
  {
    weight: 6,
    arbitrary: fc.integer({ min: 0, max: 5000 }).map((d) => (v: number | null) => (v ?? 0) + d),
  },
  // a counter reset, or a gauge going down
  {
    weight: 2,
    arbitrary: fc.nat().map((d) => (v: number | null) => (v === null ? d : Math.max(0, v - d))),
  },
  { weight: 3, arbitrary: value.map((x) => () => x) },
);

interface Frame {
  system: (number | null)[];
  cores: (number | null)[][];
  delta: boolean;
}

/** Frames as a recorder sees them: counters that move a little, the odd null, float and reset. */
const frames = fc
  .tuple(
    fc.array(value, { minLength: FIELDS, maxLength: FIELDS }),
    fc.array(
      fc.record({
        system: fc.array(change, { minLength: FIELDS, maxLength: FIELDS }),
        cores: fc.array(change, { minLength: MODES, maxLength: MODES }),
        coreCount: fc.oneof(
          { weight: 8, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }) },
        ),
        delta: fc.oneof(
          { weight: 6, arbitrary: fc.constant(true) },
          { weight: 1, arbitrary: fc.constant(false) },
        ),
      }),
      { minLength: 1, maxLength: 30 },
    ),
  )
  .map(([first, steps]) => {
    const out: Frame[] = [];
    let system = first;
    let cores: (number | null)[][] = [[1, 2, 3, 4, 5, 6, 7, 8]];
    for (const step of steps) {
      system = system.map((v, i) => step.system[i]!(v));
      const count = step.coreCount ?? cores.length;
      cores = Array.from({ length: count }, (_, c) => {
        const prev = cores[c] ?? new Array<number | null>(MODES).fill(null);
        return prev.map((v, m) => step.cores[m]!(v));
      });
      // averages go through hundredths, exact for the integers the kernel gives
      system = system.map((v, i) =>
        v !== null && HUNDREDTHS_FIELDS.has(SYSTEM_FIELDS[i]!)
          ? Number.isFinite(v)
            ? Math.abs(Math.trunc(v)) % 1_000_000
            : 0
          : v,
      );
      out.push({ system, cores, delta: step.delta });
    }
    return out;
  });

const DELTA_FORMATS = [COUNTER_SPARSE_FORMAT, COUNTER_DELTA_FORMAT] as const;

describe('delta frames', () => {
  it('read back in order give every frame as given, with or without cores', () => {
    fc.assert(
      fc.property(frames, fc.boolean(), fc.constantFrom(...DELTA_FORMATS), (seq, withCores, f) => {
        const deltaFormat = f;
        const writer = new CounterBlobWriter(deltaFormat);
        const blobs = seq.map((f) => {
          const values = [...f.system, ...f.cores.flat()];
          // encodeStored writes absolute frames; encode takes counters as read
          const system = emptySystem();
          SYSTEM_FIELDS.forEach((name, i) => (system[name] = asRead(values[i]!, i)));
          const cores = f.cores.map((modes) =>
            Object.fromEntries(CORE_MODES.map((m, i) => [m, modes[i] ?? NaN])),
          ) as unknown as Parameters<CounterBlobWriter['encode']>[1];
          return Buffer.from(writer.encode(system, cores, f.delta));
        });
        const reader = new CounterBlobReader();
        seq.forEach((f, i) => {
          reader.read(blobs[i]!, withCores);
          expect(Array.from(reader.system)).toEqual(f.system.map(asRead));
          if (withCores) {
            expect(reader.coreCount).toBe(f.cores.length);
            expect(Array.from(reader.cores.subarray(0, f.cores.length * MODES))).toEqual(
              f.cores.flat().map((v) => v ?? NaN),
            );
          }
        });
        // the first frame stands alone; a frame of another shape than the one before too
        expect(blobs[0]![0]).toBe(COUNTER_BLOB_FORMAT);
        seq.forEach((f, i) => {
          const changed = i > 0 && seq[i - 1]!.cores.length !== f.cores.length;
          if (!f.delta || changed) expect(blobs[i]![0]).toBe(COUNTER_BLOB_FORMAT);
          else if (i > 0) expect(blobs[i]![0]).toBe(deltaFormat);
        });
      }),
    );
  });

  it.each(DELTA_FORMATS)(
    'store counters that move little in a byte each (format %i), exact near 2^53',
    (format) => {
      const writer = new CounterBlobWriter(format);
      const reader = new CounterBlobReader();
      const big = Number.MAX_SAFE_INTEGER - 2;
      /** Every field but the averages (stored as hundredths) and every mode at v. */
      const frame = (v: number, delta: boolean) => {
        const system = emptySystem();
        for (const f of SYSTEM_FIELDS) if (!HUNDREDTHS_FIELDS.has(f)) system[f] = v;
        return writer.encode(system, [cpuAll(v)], delta);
      };
      const expected = (v: number) =>
        SYSTEM_FIELDS.map((f) => (HUNDREDTHS_FIELDS.has(f) ? NaN : v));
      for (const v of [big - 10, big, 0, big, 5, big - 1, 2 ** 31, 2 ** 32 + 3]) {
        reader.read(frame(v, true), true);
        expect(Array.from(reader.system)).toEqual(expected(v));
        expect(reader.cores[MODES - 1]).toBe(v);
      }
      frame(2 ** 40, false);
      const delta = frame(2 ** 40 + 7, true);
      expect(delta[0]).toBe(format);
      const averages = HUNDREDTHS_FIELDS.size;
      // format, field count, a byte a field, core count, modes, a byte a mode; a sparse
      // frame has bitmaps and no byte for the averages, null here in every frame
      expect(delta.length).toBe(
        format === COUNTER_DELTA_FORMAT
          ? 1 + 1 + FIELDS + 2 + MODES
          : 1 + 1 + Math.ceil(FIELDS / 8) + FIELDS - averages + 2 + 1 + MODES,
      );
      expect(frame(2 ** 40 + 7, false).length).toBeGreaterThan(1 + 1 + 5 * FIELDS);
    },
  );

  it('store only what changed in a sparse frame, and nothing else but the bitmaps', () => {
    const writer = new CounterBlobWriter();
    const reader = new CounterBlobReader();
    const system = emptySystem();
    for (const f of SYSTEM_FIELDS) system[f] = 1000;
    reader.read(writer.encode(system, [cpuAll(50), cpuAll(60)], true), true);
    const same = writer.encode(system, [cpuAll(50), cpuAll(60)], true);
    expect([...same]).toEqual([
      COUNTER_SPARSE_FORMAT,
      FIELDS,
      ...bitmapOf(FIELDS, []),
      2,
      MODES,
      ...bitmapOf(2 * MODES, []),
    ]);
    reader.read(same, true);
    const field = SYSTEM_FIELDS.indexOf('mem_available_bytes');
    system.mem_available_bytes = 999;
    const second = { ...cpuAll(60), idle: 61 };
    const moved = writer.encode(system, [cpuAll(50), second], true);
    // the field's bit, down one (u = 3 + zigzag(-1)); core 1's idle up one (3 + zigzag(1))
    const idleBit = MODES + CORE_MODES.indexOf('idle');
    expect([...moved.subarray(2)]).toEqual([
      ...bitmapOf(FIELDS, [field]),
      3 + 1,
      2,
      MODES,
      ...bitmapOf(2 * MODES, [idleBit]),
      3 + 2,
    ]);
    reader.read(moved, true);
    expect(reader.field('mem_available_bytes')).toBe(999);
    expect(Array.from(reader.cores.subarray(0, 2 * MODES))).toEqual([
      ...CORE_MODES.map(() => 50),
      ...CORE_MODES.map((m) => second[m]),
    ]);
    // a bitmap cut short
    expect(() => reader.read(moved.subarray(0, 4), false)).toThrow(/truncated/);
  });

  it('refuse a delta frame without the frames before it, or of another shape', () => {
    const writer = new CounterBlobWriter();
    const reader = new CounterBlobReader();
    const key = Buffer.from(writer.encodeStored([1, 2], [[3]]));
    const delta = Buffer.from(writer.encode(emptySystem(), [cpuAll(4)], true));
    expect(delta[0]).toBe(COUNTER_SPARSE_FORMAT);
    expect(() => reader.read(delta, true)).toThrow(/without the frames before it/);
    reader.read(key, false);
    expect(() => reader.read(delta, true)).toThrow(/read with cores after one read without/);
    reader.read(key, true);
    reader.read(delta, true);
    expect(reader.cores[0]).toBe(4);
    reader.restart();
    expect(() => reader.read(delta, false)).toThrow(CounterBlobError);
    reader.read(writer.encodeStored([1], [[3], [3]]), true);
    expect(() => reader.read(delta, true)).toThrow(/1 cores after one of 2/);
    // a delta against a null value
    reader.read(key, true);
    expect(() => reader.read(Buffer.from([COUNTER_DELTA_FORMAT, 1, 5, 0, MODES]), false)).toThrow(
      /fields after one of/,
    );
    reader.read(Buffer.from([COUNTER_BLOB_FORMAT, 1, 0]), false);
    expect(() => reader.read(Buffer.from([COUNTER_DELTA_FORMAT, 1, 5]), false)).toThrow(
      /against a null value/,
    );
  });

  it('skip fields and modes they do not know in a delta frame', () => {
    const reader = new CounterBlobReader();
    const known = new Array<number>(FIELDS).fill(3);
    // ten everywhere, two fields and a mode more than known
    reader.read(
      blob(
        FIELDS + 2,
        ...new Array<number>(FIELDS).fill(12),
        0,
        0,
        1,
        MODES + 1,
        ...new Array<number>(MODES + 1).fill(12),
      ),
      true,
    );
    // known fields + 0 (u = 3); unknown: a varint escape and a float escape; modes + 1 (u = 5)
    reader.read(
      Buffer.from([
        COUNTER_DELTA_FORMAT,
        FIELDS + 2,
        ...known,
        2,
        0xc8,
        0x01,
        1,
        ...new Array<number>(8).fill(0),
        1,
        MODES + 1,
        ...new Array<number>(MODES).fill(5),
        2,
        9,
      ]),
      true,
    );
    expect(Array.from(reader.system)).toEqual(SYSTEM_FIELDS.map((_, i) => asRead(10, i)));
    expect(Array.from(reader.cores.subarray(0, MODES))).toEqual(new Array(MODES).fill(11));
    // the same in a sparse frame: only the unknown fields, and the last known mode, moved
    reader.read(
      Buffer.from([
        COUNTER_SPARSE_FORMAT,
        FIELDS + 2,
        ...bitmapOf(FIELDS + 2, [FIELDS, FIELDS + 1]),
        2,
        0xc8,
        0x01,
        1,
        ...new Array<number>(8).fill(0),
        1,
        MODES + 1,
        // a bitmap of the MODES + 1 values with only the unknown mode's bit, and its value
        ...bitmapOf(MODES + 1, [MODES]),
        2,
        9,
      ]),
      true,
    );
    expect(Array.from(reader.cores.subarray(0, MODES))).toEqual(new Array(MODES).fill(11));
    expect(Array.from(reader.system)).toEqual(SYSTEM_FIELDS.map((_, i) => asRead(10, i)));
  });
});

/** A sparse frame's bitmap of n values with the given bits set. */
function bitmapOf(n: number, set: number[]): number[] {
  const bytes = new Array<number>(Math.ceil(n / 8)).fill(0);
  for (const i of set) bytes[i >> 3] = bytes[i >> 3]! | (1 << (i & 7));
  return bytes;
}

function cpuAll(v: number) {
  return Object.fromEntries(CORE_MODES.map((m) => [m, v])) as Record<
    (typeof CORE_MODES)[number],
    number
  >;
}
