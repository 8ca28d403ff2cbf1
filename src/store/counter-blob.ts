/**
 * One snapshot's system and per-core counters packed into one blob (system_raw.counters).
 * Stored as 57 REAL columns, a row spent a header byte per column; the counters are
 * non-negative integers, which a varint holds in as few bytes as SQLite would.
 *
 * Every varint is unsigned LEB128 (7 bits a byte, least significant first). A blob is
 *
 *   format byte: 1 absolute frame, 2 delta frame, 3 sparse delta frame
 *   varint F, the number of system fields, then F values in the order of SYSTEM_FIELDS
 *   varint C, the number of cores; varint M, modes per core; then C x M values, core by
 *     core, each in the order of CORE_MODES
 *
 * In an absolute frame (format 1, self-contained) a value is a varint u: 0 is null; 1 means
 * an IEEE-754 float64 follows, 8 bytes little endian (negative, fractional or too large for
 * the integer form, never expected); u >= 2 is the integer u - 2.
 *
 * Most counters are large (memory bytes, PSI totals in µs, jiffies) and move little from
 * one tick to the next, so a delta frame (format 2) stores each value against the same
 * value of the frame before it in ts order: u = 0 null, 1 float64 follows, 2 a varint
 * follows holding the integer itself (when the previous value was null or not an integer,
 * or the difference would not be exact), u >= 3 the integer previous + unzigzag(u - 3).
 * A delta frame has the F, C and M of the frame before it; a frame of another shape is
 * absolute. Reading one takes the frames from an absolute one on (CounterBlobReader).
 *
 * Most values of a delta frame do not move at all (totals of memory and swap, idle PSI,
 * quiet disks, steal): a sparse delta frame (format 3, what SampleWriter writes since)
 * stores only those that changed. After F comes a bitmap of ceil(F / 8) bytes, bit i
 * (byte i >> 3, bit i & 7) set when field i differs from the frame before (a null that
 * stays null does not), then the values of the set bits as in format 2; likewise after M
 * a bitmap of the C x M core values and theirs.
 *
 * Load and PSI averages (HUNDREDTHS_FIELDS) are stored as integer hundredths. A decoder
 * that meets fewer fields or modes than it knows yields null for the rest, so later
 * formats can append fields; it skips those it does not know.
 */
import {
  HUNDREDTHS_FIELDS,
  SYSTEM_FIELDS,
  type CpuTimes,
  type SystemCounters,
  type SystemField,
} from '../types.js';
import type { CounterBlobReader } from './counter-blob-reader.js';

export const CORE_MODES = [
  'user',
  'nice',
  'system',
  'idle',
  'iowait',
  'irq',
  'softirq',
  'steal',
] as const;

/** The format byte of a self-contained frame: a keyframe. */
export const COUNTER_BLOB_FORMAT = 1;
/** The format byte of a frame stored against the frame before it, every value. */
export const COUNTER_DELTA_FORMAT = 2;
/** The format byte of a frame stored against the frame before it, changed values only. */
export const COUNTER_SPARSE_FORMAT = 3;

export const FIELDS = SYSTEM_FIELDS.length;
export const MODES = CORE_MODES.length;
/** Stored value = value as read x SCALE[i], for the system field at index i. */
export const SCALE = Float64Array.from(SYSTEM_FIELDS, (f) => (HUNDREDTHS_FIELDS.has(f) ? 100 : 1));
export const INDEX = Object.fromEntries(SYSTEM_FIELDS.map((f, i) => [f, i])) as Record<
  SystemField,
  number
>;
/** The largest integer stored as one: u = v + 2 must stay exact in a double. */
const MAX_INTEGER = Number.MAX_SAFE_INTEGER - 2;
/** The largest zigzagged difference stored as one: u = z + 3 must stay exact. */
const MAX_ZIGZAG = Number.MAX_SAFE_INTEGER - 3;
/** The most bytes a value takes: an escape byte and a float64. */
const MAX_VALUE_BYTES = 9;

export class CounterBlobError extends Error {
  constructor(message: string) {
    super(`system_raw counters: ${message}`);
    this.name = 'CounterBlobError';
  }
}

function writeVarint(buf: Buffer, at: number, u: number): number {
  // Arithmetic, not bit operations: counters exceed 2^31.
  while (u >= 128) {
    buf[at++] = (u % 128) + 128;
    u = Math.floor(u / 128);
  }
  buf[at++] = u;
  return at;
}

function varintLength(u: number): number {
  let n = 1;
  for (; u >= 128; n++) u = Math.floor(u / 128);
  return n;
}

const isStoredInteger = (v: number) => v >= 0 && v <= MAX_INTEGER && Number.isInteger(v);

function writeFloat(buf: Buffer, at: number, v: number): number {
  buf[at] = 1;
  buf.writeDoubleLE(v, at + 1);
  return at + 9;
}

/** A value of an absolute frame (v NaN for null). */
function writeValue(buf: Buffer, at: number, v: number): number {
  if (Number.isNaN(v)) {
    buf[at] = 0;
    return at + 1;
  }
  return isStoredInteger(v) ? writeVarint(buf, at, v + 2) : writeFloat(buf, at, v);
}

/** A value of a delta frame against the previous frame's value p (NaN for null). */
function writeDelta(buf: Buffer, at: number, v: number, p: number): number {
  if (Number.isNaN(v)) {
    buf[at] = 0;
    return at + 1;
  }
  if (!isStoredInteger(v)) return writeFloat(buf, at, v);
  if (isStoredInteger(p)) {
    // Both in [0, 2^53 - 3]: the difference is exact.
    const d = v - p;
    const z = d >= 0 ? 2 * d : -2 * d - 1;
    // A counter reset can make the difference longer than the value itself.
    if (z < 125 || (z <= MAX_ZIGZAG && varintLength(z + 3) <= varintLength(v) + 1)) {
      return writeVarint(buf, at, z + 3);
    }
  }
  buf[at] = 2;
  return writeVarint(buf, at + 1, v);
}

/**
 * Encodes into one buffer it owns and reuses: each call returns a view of it, valid until
 * the next call. It keeps the values of the frame it encoded last, so that the next can be
 * a delta frame against them.
 */
export class CounterBlobWriter {
  private buf = Buffer.alloc(1024);
  /**
   * The format of delta frames: sparse, unless a reader of format 2 is to be exercised
   * (rows stored before format 3 are format 2).
   */
  constructor(
    private readonly deltaFormat:
      typeof COUNTER_DELTA_FORMAT | typeof COUNTER_SPARSE_FORMAT = COUNTER_SPARSE_FORMAT,
  ) {}

  /** The last frame's stored values, system fields then cores' modes; NaN for null. */
  private last = new Float64Array(FIELDS);
  /** Cores in the last frame; -1 when there is none to store a delta against. */
  private lastCores = -1;
  /** The array the next frame's values go in (the last's, swapped out). */
  private next = new Float64Array(FIELDS);

  /**
   * A snapshot's counters as read (averages in units, stored as hundredths): a delta
   * frame against the frame encoded last when asked and that frame has the same shape,
   * else an absolute frame.
   */
  encode(system: SystemCounters, cores: readonly CpuTimes[], delta = false): Buffer {
    const values = this.values(cores.length);
    for (let i = 0; i < FIELDS; i++) {
      const v = system[SYSTEM_FIELDS[i]!];
      values[i] =
        v === null || v === undefined ? NaN : SCALE[i] === 1 ? v : Math.round(v * SCALE[i]!);
    }
    for (let c = 0; c < cores.length; c++) {
      const times = cores[c]!;
      for (let m = 0; m < MODES; m++) values[FIELDS + c * MODES + m] = times[CORE_MODES[m]!] ?? NaN;
    }
    return this.frame(cores.length, delta);
  }

  /**
   * Counters as stored before this format (system_raw and core_raw columns, averages
   * already in hundredths), by index in SYSTEM_FIELDS and in CORE_MODES: an absolute frame.
   */
  encodeStored(
    system: readonly (number | null)[],
    cores: readonly (readonly (number | null)[])[],
  ): Buffer {
    const values = this.values(cores.length);
    for (let i = 0; i < FIELDS; i++) values[i] = system[i] ?? NaN;
    for (let c = 0; c < cores.length; c++) {
      for (let m = 0; m < MODES; m++) values[FIELDS + c * MODES + m] = cores[c]?.[m] ?? NaN;
    }
    return this.frame(cores.length, false);
  }

  /**
   * An absolute frame of the values a reader holds (read with cores): for a frame that
   * has to stand on its own from now on.
   */
  encodeRead(reader: CounterBlobReader): Buffer {
    const count = reader.coreCount;
    const values = this.values(count);
    reader.storedValues(values);
    return this.frame(count, false);
  }

  /** Forgets the last frame: the next is absolute. */
  forget(): void {
    this.lastCores = -1;
  }

  private values(coreCount: number): Float64Array {
    const n = FIELDS + coreCount * MODES;
    if (this.next.length !== n) this.next = new Float64Array(n);
    return this.next;
  }

  private frame(coreCount: number, delta: boolean): Buffer {
    const values = this.next;
    const last = this.last;
    // values, the bitmaps, and the format byte and three varints of at most 10 bytes
    const need = 1 + 3 * 10 + values.length * MAX_VALUE_BYTES + values.length / 8 + 2;
    if (need > this.buf.length) this.buf = Buffer.alloc(need);
    const buf = this.buf;
    const asDelta = delta && this.lastCores === coreCount;
    const format = asDelta ? this.deltaFormat : COUNTER_BLOB_FORMAT;
    buf[0] = format;
    let at = writeVarint(buf, 1, FIELDS);
    at = this.section(format, at, 0, FIELDS);
    at = writeVarint(buf, at, coreCount);
    at = writeVarint(buf, at, MODES);
    at = this.section(format, at, FIELDS, values.length);
    // The values become the last frame's; the next frame reuses the array they were in.
    this.last = values;
    this.next = last.length === values.length ? last : new Float64Array(values.length);
    this.lastCores = coreCount;
    return buf.subarray(0, at);
  }

  /** The values [from, to) of the next frame, written at `at` in `format`; returns the end. */
  private section(format: number, at: number, from: number, to: number): number {
    const { buf, next: values, last } = this;
    if (format === COUNTER_BLOB_FORMAT) {
      for (let i = from; i < to; i++) at = writeValue(buf, at, values[i]!);
      return at;
    }
    if (format === COUNTER_DELTA_FORMAT) {
      for (let i = from; i < to; i++) at = writeDelta(buf, at, values[i]!, last[i]!);
      return at;
    }
    const bitmap = at;
    at += Math.ceil((to - from) / 8);
    buf.fill(0, bitmap, at);
    for (let i = from; i < to; i++) {
      const v = values[i]!;
      const p = last[i]!;
      if (v === p || (Number.isNaN(v) && Number.isNaN(p))) continue;
      const bit = i - from;
      buf[bitmap + (bit >> 3)] = buf[bitmap + (bit >> 3)]! | (1 << (bit & 7));
      at = writeDelta(buf, at, v, p);
    }
    return at;
  }
}
