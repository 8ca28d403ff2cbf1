/**
 * Byte-level helpers for the sketch encoding: unsigned varints (LEB128) and zig-zag, in
 * plain arithmetic because bitwise operators in JS truncate to 32 bits and counts may not.
 */

export class SketchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SketchError';
  }
}

/** A blob that is not a valid encoded sketch (truncated, corrupt, or of an unknown version). */
export class SketchDecodeError extends SketchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`invalid sketch encoding: ${message}`, options);
    this.name = 'SketchDecodeError';
  }
}

export function zigzag(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

export function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Grows as needed; `bytes()` returns a Buffer over exactly what was written. */
export class ByteWriter {
  private buf = Buffer.allocUnsafe(64);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  varint(v: number): void {
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** Reads with bounds checks; every malformed input ends in SketchDecodeError. */
export class ByteReader {
  pos = 0;
  private view: DataView | null = null;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw new SketchDecodeError(`truncated at byte ${this.pos}`);
    return this.buf[this.pos++]!;
  }

  varint(): number {
    // Bounds are checked before each load: a load past the end would make every load slow.
    const buf = this.buf;
    const len = buf.length;
    let pos = this.pos;
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (pos >= len) throw new SketchDecodeError(`truncated at byte ${pos}`);
      const b = buf[pos++]!;
      v += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        if (v > Number.MAX_SAFE_INTEGER) break;
        return v;
      }
      scale *= 0x80;
    }
    throw new SketchDecodeError(`varint too large at byte ${pos}`);
  }

  f64(): number {
    if (this.pos + 8 > this.buf.length) {
      throw new SketchDecodeError(`truncated at byte ${this.pos}`);
    }
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
}
