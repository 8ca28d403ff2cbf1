/** Reading system_raw counter blobs (the format is described in counter-blob.ts). */
import { SYSTEM_FIELDS, type CpuTimes, type SystemCounters, type SystemField } from '../types.js';
import { MINUTE_MS } from './bucket.js';
import {
  CORE_MODES,
  COUNTER_BLOB_FORMAT,
  COUNTER_DELTA_FORMAT,
  COUNTER_SPARSE_FORMAT,
  CounterBlobError,
  FIELDS,
  INDEX,
  MODES,
  SCALE,
} from './counter-blob.js';

/**
 * Decodes blobs into arrays it owns and reuses, NaN where a value is null: the analysis
 * reads long windows of them, so reading one allocates nothing. Frames are read in ts
 * order from an absolute one on: a delta frame is read against the frame read before it
 * (restart() forgets it).
 */
export class CounterBlobReader {
  /** System fields as read (averages in units), by index in SYSTEM_FIELDS. */
  readonly system = new Float64Array(FIELDS);
  /** Core c's mode m (index in CORE_MODES) at c * CORE_MODES.length + m. */
  cores = new Float64Array(0);
  /** Cores in the last blob read with cores. */
  coreCount = 0;
  /** System fields as stored (averages in hundredths), what a delta is added to. */
  private readonly stored = new Float64Array(FIELDS);
  /** The ts of the last frame read, when given. */
  private ts = NaN;
  /** The field count of the last frame read; -1 before one. */
  private fields = -1;
  /** Whether the cores hold the last frame's (it was read with cores). */
  private coresRead = false;
  private pos = 0;
  private blob: Uint8Array = new Uint8Array(0);

  /** Starts a new sequence of frames: the next must be absolute. */
  restart(): void {
    this.ts = NaN;
    this.fields = -1;
    this.coresRead = false;
  }

  /**
   * Reads one blob; its cores only when asked. A delta frame with cores needs the frame
   * before it read with cores too. Given the rows' ts, a delta frame must be in the same
   * UTC minute as the frame before it, as SampleWriter stores them: a row read after
   * another than the one it was stored against (its keyframe lost) is refused, not misread.
   */
  read(blob: Uint8Array, withCores: boolean, ts = NaN): void {
    this.blob = blob;
    const format = blob[0];
    const sparse = format === COUNTER_SPARSE_FORMAT;
    const delta = sparse || format === COUNTER_DELTA_FORMAT;
    if (!delta && format !== COUNTER_BLOB_FORMAT) {
      throw new CounterBlobError(`unknown format ${String(format)}`);
    }
    const prevTs = this.ts;
    this.ts = ts;
    if (
      delta &&
      Math.floor(ts / MINUTE_MS) !== Math.floor(prevTs / MINUTE_MS) &&
      !Number.isNaN(ts) &&
      !Number.isNaN(prevTs)
    ) {
      throw new CounterBlobError(`a delta frame at ${ts} after a row of another minute`);
    }
    this.pos = 1;
    const fields = this.varint();
    if (delta && fields !== this.fields) {
      throw new CounterBlobError(
        this.fields < 0
          ? 'a delta frame without the frames before it'
          : `a delta frame of ${fields} fields after one of ${this.fields}`,
      );
    }
    // Until this frame is read whole, the previous values are no longer whole either.
    this.fields = -1;
    const system = this.system;
    const stored = this.stored;
    const changed = sparse ? this.bitmap(fields) : -1;
    for (let i = 0; i < fields; i++) {
      // In a sparse frame a value without its bit is the previous frame's.
      if (changed >= 0 && (this.blob[changed + (i >> 3)]! & (1 << (i & 7))) === 0) continue;
      if (i >= FIELDS) {
        this.skip(delta);
        continue;
      }
      const v = delta ? this.delta(stored[i]!) : this.next();
      stored[i] = v;
      system[i] = SCALE[i] === 1 ? v : v / SCALE[i]!;
    }
    for (let i = fields; i < FIELDS; i++) system[i] = stored[i] = NaN;
    if (!withCores) {
      this.coresRead = false;
      this.fields = fields;
      return;
    }
    const count = this.varint();
    const modes = this.varint();
    if (delta && (!this.coresRead || count !== this.coreCount)) {
      throw new CounterBlobError(
        this.coresRead
          ? `a delta frame of ${count} cores after one of ${this.coreCount}`
          : 'a delta frame read with cores after one read without',
      );
    }
    this.coreCount = count;
    if (this.cores.length < count * MODES) this.cores = new Float64Array(count * MODES);
    const cores = this.cores;
    const coresChanged = sparse ? this.bitmap(count * modes) : -1;
    for (let c = 0; c < count; c++) {
      const base = c * MODES;
      for (let m = 0; m < modes; m++) {
        const j = c * modes + m;
        if (coresChanged >= 0 && (this.blob[coresChanged + (j >> 3)]! & (1 << (j & 7))) === 0) {
          continue;
        }
        if (m >= MODES) this.skip(delta);
        else cores[base + m] = delta ? this.delta(cores[base + m]!) : this.next();
      }
      for (let m = modes; m < MODES; m++) cores[base + m] = NaN;
    }
    this.coresRead = true;
    this.fields = fields;
  }

  /** One system field of the last blob read; null where not stored. */
  field(name: SystemField): number | null {
    const v = this.system[INDEX[name]]!;
    return Number.isNaN(v) ? null : v;
  }

  /** The last frame's values as stored, system fields then cores (read with cores). */
  storedValues(out: Float64Array): void {
    out.set(this.stored);
    out.set(this.cores.subarray(0, this.coreCount * MODES), FIELDS);
  }

  /** Passes over the bitmap of a sparse frame's n values; returns where it starts. */
  private bitmap(n: number): number {
    const at = this.pos;
    this.pos += Math.ceil(n / 8);
    if (this.pos > this.blob.length) throw new CounterBlobError('truncated');
    return at;
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

  private float(): number {
    if (this.pos + 8 > this.blob.length) throw new CounterBlobError('truncated');
    const blob = this.blob;
    const v = new DataView(blob.buffer, blob.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** A value of an absolute frame. */
  private next(): number {
    const u = this.varint();
    if (u >= 2) return u - 2;
    return u === 0 ? NaN : this.float();
  }

  /** A value of a delta frame, against the previous frame's p. */
  private delta(p: number): number {
    const u = this.varint();
    if (u >= 3) {
      if (Number.isNaN(p)) throw new CounterBlobError('a delta against a null value');
      const z = u - 3;
      return z % 2 === 0 ? p + z / 2 : p - (z + 1) / 2;
    }
    if (u === 2) return this.varint();
    return u === 0 ? NaN : this.float();
  }

  /** Passes over a value this reader does not know. */
  private skip(delta: boolean): void {
    const u = this.varint();
    if (u === 1) this.float();
    else if (u === 2 && delta) this.varint();
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
