import { Frontend } from '../protocol/codes.js';
import { MessageScanner } from '../protocol/scanner.js';

/**
 * Messages that make the server run or commit something by themselves. With no window open, their
 * bytes go on only once the message is whole: a window that starts while one is half read must be
 * able to keep it from the server, and no filler can spoil one already begun (the tail of an
 * Execute is a row count, of a FunctionCall a format code; Sync and CopyDone have no body).
 */
const RUNS_ALONE = MessageScanner.types(Frontend.Execute, Frontend.Sync, Frontend.FunctionCall, Frontend.CopyDone);

/** What RunsWhole reads of the client scanner, after it scanned a chunk. */
export interface PartialState {
  /** Type of the half-read message (-1: none, or one being skipped). */
  readonly partialType: number;
  /** Its bytes read so far. */
  readonly partialBytes: number;
}

/**
 * The ungated forwarding of client bytes: everything as it came, but a half-read message that
 * runs, which is kept back until it is whole.
 */
export class RunsWhole {
  private pieces: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly toServer: (b: Buffer) => void) {}

  /** Bytes read of a message that runs and kept back. */
  get withheld(): number {
    return this.bytes;
  }

  /** Forward the first `end` bytes of a chunk the scanner has just read. */
  forward(chunk: Buffer, end: number, scanner: PartialState): void {
    const runsPartial = end === chunk.length && RUNS_ALONE[scanner.partialType] === 1;
    if (this.bytes > 0) {
      if (runsPartial && scanner.partialBytes === this.bytes + end) {
        // still the same message
        this.pieces.push(chunk);
        this.bytes += end;
        return;
      }
      // whole now (or the stream failed): it goes first
      for (const b of this.pieces) this.toServer(b);
      this.drop();
    }
    if (!runsPartial) {
      this.toServer(end === chunk.length ? chunk : chunk.subarray(0, end));
      return;
    }
    // Every byte of the half message is in this chunk (an earlier one would have been kept back).
    const keep = scanner.partialBytes;
    if (end > keep) this.toServer(chunk.subarray(0, end - keep));
    this.pieces.push(chunk.subarray(end - keep, end));
    this.bytes = keep;
  }

  /** Gating begins (the scanner collects the message whole) or the session ends: forget what was kept back. */
  drop(): void {
    this.pieces = [];
    this.bytes = 0;
  }
}
