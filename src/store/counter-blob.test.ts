import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptySystem } from '../collect/collector.js';
import { HUNDREDTHS_FIELDS, SYSTEM_FIELDS } from '../types.js';
import {
  CORE_MODES,
  COUNTER_BLOB_FORMAT,
  CounterBlobError,
  CounterBlobReader,
  CounterBlobWriter,
  coresOf,
  systemOf,
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
    expect(() => reader.read(Buffer.from([2, 0]), false)).toThrow(CounterBlobError);
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
