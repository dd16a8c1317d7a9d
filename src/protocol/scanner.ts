import { HEADER_BYTES } from './codes.js';

/**
 * Framing of typed messages (everything after startup), in either direction, without copying.
 *
 * The scanner walks a chunk with an offset: a message wholly inside the chunk is reported as a
 * view (the chunk itself plus offsets), valid only during the callback. A message that spans
 * chunks is either skipped (types nobody asked for) or collected into one buffer and reported
 * whole. Nothing is allocated per message on the common path.
 */
/**
 * Bytes of partial messages buffered across every scanner that shares it (every client of one
 * proxy). A client that declares a large message and stalls holds only what it really sent, and
 * all of them together never more than `limitBytes`.
 */
export class BufferBudget {
  private used = 0;
  constructor(readonly limitBytes: number) {}
  get usedBytes(): number {
    return this.used;
  }
  reserve(n: number): boolean {
    if (this.used + n > this.limitBytes) return false;
    this.used += n;
    return true;
  }
  release(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

/** A partial message starts this small and doubles as its bytes arrive, up to its declared size. */
const FIRST_ACC_BYTES = 16 * 1024;

export interface MessageSink {
  /**
   * One complete message: bytes [start, end) of buf, the type byte at buf[start] and the body at
   * [start + 5, end). buf may be the caller's chunk: copy what you keep.
   */
  message(type: number, buf: Buffer, start: number, end: number): void;
  /**
   * Length field out of range, or the shared buffer budget is spent (`overloaded`): the stream
   * cannot be framed any further. scan() then returns the offset just past the offending header,
   * so that a caller forwarding bytes can stop there.
   */
  invalid(reason: string, type: number, length: number, overloaded?: boolean): void;
}

export class MessageScanner {
  /** Report (and collect when spanning) every message, not only wanted ones. */
  collectAll = false;
  /** Per-type limits in total bytes (0: maxMessageBytes), e.g. PostgreSQL's for small messages. */
  typeLimits: Uint32Array | null = null;
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private skipRemaining = 0;
  /** The partial message being collected: `accFill` bytes of `accTotal`, in a buffer grown as they come. */
  private acc: Buffer | null = null;
  private accFill = 0;
  private accTotal = 0;
  private failed = false;

  constructor(
    private readonly wanted: Uint8Array,
    private readonly maxMessageBytes: number,
    private readonly sink: MessageSink,
    private readonly budget: BufferBudget | null = null,
  ) {}

  /** Bytes this scanner holds for a partial message (what it reserved from the budget). */
  get bufferedBytes(): number {
    return this.acc?.length ?? 0;
  }

  /**
   * Make room for `need` bytes of the partial message: the buffer doubles (at most to the declared
   * size) and each growth is reserved from the budget first. False (and the stream failed) when
   * the budget is spent.
   */
  private ensureRoom(need: number, type: number): boolean {
    const have = this.acc?.length ?? 0;
    if (need <= have) return true;
    let size = Math.min(this.accTotal, Math.max(need, have * 2, FIRST_ACC_BYTES));
    // Near the limit, doubling gives way to exactly what arrived.
    if (this.budget && !this.budget.reserve(size - have) && (size === need || !this.budget.reserve((size = need) - have))) {
      this.failed = true;
      const limit = this.budget.limitBytes;
      this.dropAcc();
      this.sink.invalid(`quietcut is buffering its limit of ${limit} bytes of incomplete messages from all clients (limits.maxBufferedBytes)`, type, this.accTotal - 1, true);
      return false;
    }
    const grown = Buffer.allocUnsafe(size);
    if (this.acc) this.acc.copy(grown, 0, 0, this.accFill);
    this.acc = grown;
    return true;
  }

  private dropAcc(): void {
    if (this.acc) this.budget?.release(this.acc.length);
    this.acc = null;
    this.accFill = 0;
    this.accTotal = 0;
  }

  /** Begin collecting a message of `total` bytes whose first `have` bytes are `src[from, from+have)`. */
  private startAcc(total: number, src: Buffer, from: number, have: number): boolean {
    this.accTotal = total;
    this.accFill = 0;
    if (!this.ensureRoom(have, src[from]!)) return false;
    src.copy(this.acc!, 0, from, from + have);
    this.accFill = have;
    return true;
  }

  /** Build the `wanted` table from type bytes. */
  static types(...types: number[]): Uint8Array {
    const t = new Uint8Array(256);
    for (const x of types) t[x] = 1;
    return t;
  }

  /** Bytes of a partly received message already consumed, when it is being collected (or only its header is in). */
  get partialBytes(): number {
    return this.acc !== null ? this.accFill : this.headerFill;
  }

  /** Type byte of a partly received message (its header or more is in); -1 at a boundary or while skipping. */
  get partialType(): number {
    if (this.acc !== null) return this.acc[0]!;
    return this.headerFill > 0 ? this.header[0]! : -1;
  }

  /** Bytes still to come of a partly received message that is being skipped (not reported). */
  get skipping(): number {
    return this.skipRemaining;
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
      const take = Math.min(this.accTotal - this.accFill, n - off);
      if (!this.ensureRoom(this.accFill + take, this.acc[0]!)) return n;
      chunk.copy(this.acc, this.accFill, off, off + take);
      this.accFill += take;
      off += take;
      if (this.accFill < this.accTotal) return n;
      const whole = this.acc;
      // The message is whole: it leaves the budget (what the sink keeps is bounded elsewhere).
      this.budget?.release(whole.length);
      this.acc = null;
      this.accFill = 0;
      this.accTotal = 0;
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
        if (!this.startAcc(total, this.header, 0, HEADER_BYTES)) return n;
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
        this.startAcc(1 + len, chunk, off, n - off);
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
    this.dropAcc();
    this.failed = false;
    this.stopRequested = false;
  }
}
