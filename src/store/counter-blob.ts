/**
 * One snapshot's system and per-core counters packed into one blob (system_raw.counters).
 * Stored as 57 REAL columns, a row spent a header byte per column; the counters are
 * non-negative integers, which a varint holds in as few bytes as SQLite would.
 *
 * Format 1, every varint unsigned LEB128 (7 bits a byte, least significant first):
 *
 *   format byte (1)
 *   varint F, the number of system fields, then F values in the order of SYSTEM_FIELDS
 *   varint C, the number of cores; varint M, modes per core; then C x M values, core by
 *     core, each in the order of CORE_MODES
 *
 * A value is a varint u: 0 is null; 1 means an IEEE-754 float64 follows, 8 bytes little
 * endian (negative, fractional or too large for the integer form, never expected); u >= 2
 * is the integer u - 2. Load and PSI averages (HUNDREDTHS_FIELDS) are stored as integer
 * hundredths. A decoder that meets fewer fields or modes than it knows yields null for the
 * rest, so later formats can append fields; it skips those it does not know.
 */
import {
  HUNDREDTHS_FIELDS,
  SYSTEM_FIELDS,
  type CpuTimes,
  type SystemCounters,
  type SystemField,
} from '../types.js';

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

export const COUNTER_BLOB_FORMAT = 1;

const FIELDS = SYSTEM_FIELDS.length;
const MODES = CORE_MODES.length;
/** Stored value = value as read x SCALE[i], for the system field at index i. */
const SCALE = Float64Array.from(SYSTEM_FIELDS, (f) => (HUNDREDTHS_FIELDS.has(f) ? 100 : 1));
const INDEX = Object.fromEntries(SYSTEM_FIELDS.map((f, i) => [f, i])) as Record<
  SystemField,
  number
>;
/** The largest integer stored as one: u = v + 2 must stay exact in a double. */
const MAX_INTEGER = Number.MAX_SAFE_INTEGER - 2;
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

function writeValue(buf: Buffer, at: number, v: number | null | undefined): number {
  if (v === null || v === undefined || Number.isNaN(v)) {
    buf[at] = 0;
    return at + 1;
  }
  if (v >= 0 && v <= MAX_INTEGER && Number.isInteger(v)) return writeVarint(buf, at, v + 2);
  buf[at] = 1;
  buf.writeDoubleLE(v, at + 1);
  return at + 9;
}

/**
 * Encodes into one buffer it owns and reuses: each call returns a view of it, valid until
 * the next call.
 */
export class CounterBlobWriter {
  private buf = Buffer.alloc(1024);

  /** A snapshot's counters as read (averages in units, stored as hundredths). */
  encode(system: SystemCounters, cores: readonly CpuTimes[]): Buffer {
    let at = this.begin(cores.length);
    const buf = this.buf;
    for (let i = 0; i < FIELDS; i++) {
      const v = system[SYSTEM_FIELDS[i]!];
      at = writeValue(buf, at, v === null || SCALE[i] === 1 ? v : Math.round(v * SCALE[i]!));
    }
    return this.cores(at, cores.length, (c, m) => cores[c]![CORE_MODES[m]!]);
  }

  /**
   * Counters as stored before this format (system_raw and core_raw columns, averages
   * already in hundredths), by index in SYSTEM_FIELDS and in CORE_MODES.
   */
  encodeStored(
    system: readonly (number | null)[],
    cores: readonly (readonly (number | null)[])[],
  ): Buffer {
    let at = this.begin(cores.length);
    for (let i = 0; i < FIELDS; i++) at = writeValue(this.buf, at, system[i]);
    return this.cores(at, cores.length, (c, m) => cores[c]?.[m] ?? null);
  }

  private begin(coreCount: number): number {
    const need = 1 + 3 * 10 + (FIELDS + coreCount * MODES) * MAX_VALUE_BYTES;
    if (need > this.buf.length) this.buf = Buffer.alloc(need);
    this.buf[0] = COUNTER_BLOB_FORMAT;
    return writeVarint(this.buf, 1, FIELDS);
  }

  private cores(
    at: number,
    count: number,
    value: (core: number, mode: number) => number | null | undefined,
  ): Buffer {
    const buf = this.buf;
    at = writeVarint(buf, at, count);
    at = writeVarint(buf, at, MODES);
    for (let c = 0; c < count; c++) {
      for (let m = 0; m < MODES; m++) at = writeValue(buf, at, value(c, m));
    }
    return buf.subarray(0, at);
  }
}

/**
 * Decodes blobs into arrays it owns and reuses, NaN where a value is null: the analysis
 * reads long windows of them, so reading one allocates nothing.
 */
export class CounterBlobReader {
  /** System fields as read (averages in units), by index in SYSTEM_FIELDS. */
  readonly system = new Float64Array(FIELDS);
  /** Core c's mode m (index in CORE_MODES) at c * CORE_MODES.length + m. */
  cores = new Float64Array(0);
  /** Cores in the last blob read with cores. */
  coreCount = 0;
  private pos = 0;
  private blob: Uint8Array = new Uint8Array(0);

  /** Reads one blob; its cores only when asked. */
  read(blob: Uint8Array, withCores: boolean): void {
    this.blob = blob;
    if (blob[0] !== COUNTER_BLOB_FORMAT) {
      throw new CounterBlobError(`unknown format ${String(blob[0])}`);
    }
    this.pos = 1;
    const fields = this.varint();
    const system = this.system;
    for (let i = 0; i < fields; i++) {
      const v = this.next();
      if (i < FIELDS) system[i] = SCALE[i] === 1 ? v : v / SCALE[i]!;
    }
    for (let i = fields; i < FIELDS; i++) system[i] = NaN;
    if (!withCores) return;
    const count = (this.coreCount = this.varint());
    const modes = this.varint();
    if (this.cores.length < count * MODES) this.cores = new Float64Array(count * MODES);
    const cores = this.cores;
    for (let c = 0; c < count; c++) {
      for (let m = 0; m < modes; m++) {
        const v = this.next();
        if (m < MODES) cores[c * MODES + m] = v;
      }
      for (let m = modes; m < MODES; m++) cores[c * MODES + m] = NaN;
    }
  }

  /** One system field of the last blob read; null where not stored. */
  field(name: SystemField): number | null {
    const v = this.system[INDEX[name]]!;
    return Number.isNaN(v) ? null : v;
  }

  private varint(): number {
    const blob = this.blob;
    let u = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= blob.length) throw new CounterBlobError('truncated');
      const b = blob[this.pos++]!;
      u += (b & 127) * scale;
      if (b < 128) return u;
      scale *= 128;
    }
  }

  private next(): number {
    const u = this.varint();
    if (u >= 2) return u - 2;
    if (u === 0) return NaN;
    if (this.pos + 8 > this.blob.length) throw new CounterBlobError('truncated');
    const blob = this.blob;
    const v = new DataView(blob.buffer, blob.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }
}

/** A blob's system fields as SampleQuery returns them: null where not stored. */
export function systemOf(reader: CounterBlobReader, out: SystemCounters): SystemCounters {
  for (let i = 0; i < FIELDS; i++) out[SYSTEM_FIELDS[i]!] = reader.field(SYSTEM_FIELDS[i]!);
  return out;
}

/** A blob's cores as SampleQuery returns them (read with cores). */
export function coresOf(reader: CounterBlobReader): CpuTimes[] {
  const out: CpuTimes[] = [];
  for (let c = 0; c < reader.coreCount; c++) {
    const at = c * MODES;
    const times = {} as Record<(typeof CORE_MODES)[number], number>;
    for (let m = 0; m < MODES; m++) {
      const v = reader.cores[at + m]!;
      // As a NULL column read back before this format.
      times[CORE_MODES[m]!] = (Number.isNaN(v) ? null : v) as number;
    }
    out.push(times);
  }
  return out;
}
