import { HEADER_BYTES } from './codes.js';

/**
 * Framing of typed messages (everything after startup), in either direction, without copying.
 *
 * The scanner walks a chunk with an offset: a message wholly inside the chunk is reported as a
 * view (the chunk itself plus offsets), valid only during the callback. A message that spans
 * chunks is either skipped (types nobody asked for) or collected into one buffer and reported
 * whole. Nothing is allocated per message on the common path.
 */
export interface MessageSink {
  /**
   * One complete message: bytes [start, end) of buf, the type byte at buf[start] and the body at
   * [start + 5, end). buf may be the caller's chunk: copy what you keep.
   */
  message(type: number, buf: Buffer, start: number, end: number): void;
  /**
   * Length field out of range: the stream cannot be framed any further. scan() then returns the
   * offset just past the offending header, so that a caller forwarding bytes can stop there.
   */
  invalid(reason: string, type: number, length: number): void;
}

export class MessageScanner {
  /** Report (and collect when spanning) every message, not only wanted ones. */
  collectAll = false;
  /** Per-type limits in total bytes (0: maxMessageBytes), e.g. PostgreSQL's for small messages. */
  typeLimits: Uint32Array | null = null;
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private skipRemaining = 0;
  private acc: Buffer | null = null;
  private accFill = 0;
  private failed = false;

  constructor(
    private readonly wanted: Uint8Array,
    private readonly maxMessageBytes: number,
    private readonly sink: MessageSink,
  ) {}

  /** Build the `wanted` table from type bytes. */
  static types(...types: number[]): Uint8Array {
    const t = new Uint8Array(256);
    for (const x of types) t[x] = 1;
    return t;
  }

  /** No partial message is pending: the next byte starts a message. */
  get atBoundary(): boolean {
    return this.headerFill === 0 && this.skipRemaining === 0 && this.acc === null;
  }

  /**
   * Scan a chunk. Returns the offset up to which the chunk was consumed (always chunk.length,
   * unless `stopAfter` asked to stop right after a message: then the offset of the next message).
   */
  scan(chunk: Buffer, from = 0): number {
    if (this.failed) return chunk.length;
    let off = from;
    const n = chunk.length;

    if (this.skipRemaining > 0) {
      const take = Math.min(this.skipRemaining, n - off);
      this.skipRemaining -= take;
      off += take;
      if (this.skipRemaining > 0) return n;
    }
    if (this.acc !== null) {
      const take = Math.min(this.acc.length - this.accFill, n - off);
      chunk.copy(this.acc, this.accFill, off, off + take);
      this.accFill += take;
      off += take;
      if (this.accFill < this.acc.length) return n;
      const whole = this.acc;
      this.acc = null;
      this.sink.message(whole[0]!, whole, 0, whole.length);
      if (this.stopRequested) return this.stopAt(off);
    }
    if (this.headerFill > 0) {
      const take = Math.min(HEADER_BYTES - this.headerFill, n - off);
      chunk.copy(this.header, this.headerFill, off, off + take);
      this.headerFill += take;
      off += take;
      if (this.headerFill < HEADER_BYTES) return n;
      this.headerFill = 0;
      const type = this.header[0]!;
      const len = this.header.readInt32BE(1);
      if (!this.checkLength(type, len)) return off;
      const total = 1 + len;
      if (this.wanted[type] === 1 || this.collectAll) {
        const acc = Buffer.allocUnsafe(total);
        this.header.copy(acc, 0);
        this.acc = acc;
        this.accFill = HEADER_BYTES;
        return this.scan(chunk, off);
      }
      this.skipRemaining = total - HEADER_BYTES;
      return this.scan(chunk, off);
    }

    while (off + HEADER_BYTES <= n) {
      const type = chunk[off]!;
      const len = chunk.readInt32BE(off + 1);
      if (!this.checkLength(type, len)) return off + HEADER_BYTES;
      const end = off + 1 + len;
      if (end <= n) {
        if (this.wanted[type] === 1 || this.collectAll) {
          this.sink.message(type, chunk, off, end);
          if (this.stopRequested) return this.stopAt(end);
        }
        off = end;
        continue;
      }
      // Spans into the next chunk.
      if (this.wanted[type] === 1 || this.collectAll) {
        const acc = Buffer.allocUnsafe(1 + len);
        chunk.copy(acc, 0, off, n);
        this.acc = acc;
        this.accFill = n - off;
      } else {
        this.skipRemaining = end - n;
      }
      return n;
    }
    if (off < n) {
      chunk.copy(this.header, 0, off, n);
      this.headerFill = n - off;
    }
    return n;
  }

  private stopRequested = false;
  /** Called from inside `message`: stop scanning after this message; scan() returns where it stopped. */
  stop(): void {
    this.stopRequested = true;
  }
  private stopAt(off: number): number {
    this.stopRequested = false;
    return off;
  }

  private checkLength(type: number, len: number): boolean {
    if (len < 4) {
      this.failed = true;
      this.sink.invalid(`invalid message length ${len}`, type, len);
      return false;
    }
    const limit = Math.min(this.typeLimits?.[type] || this.maxMessageBytes, this.maxMessageBytes);
    if (len + 1 > limit) {
      this.failed = true;
      this.sink.invalid(`message of ${len + 1} bytes exceeds the limit of ${limit} bytes`, type, len);
      return false;
    }
    return true;
  }

  /** Drop any partial state (e.g. after the stream was abandoned). */
  reset(): void {
    this.headerFill = 0;
    this.skipRemaining = 0;
    this.acc = null;
    this.accFill = 0;
    this.failed = false;
    this.stopRequested = false;
  }
}
