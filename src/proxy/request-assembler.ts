import { Frontend } from '../protocol/codes.js';

/**
 * Whole client requests, assembled from framed messages while a window is open, so that the gate
 * decides on a request before any byte of it reaches the server (as PgDog's client_request.rs).
 *
 * A part ends at Sync, Query or FunctionCall (the server answers with ReadyForQuery), at Flush
 * (the client waits for what it asked so far), at CopyDone/CopyFail, or at Terminate. Copy data
 * that follows a COPY already forwarded (the part so far is empty) forms a part of its own, which
 * goes on without a decision: the COPY statement it belongs to was decided.
 */
export interface RequestPart {
  /** The part's messages, whole and in order (a copy, not a view into a socket chunk). */
  readonly data: Buffer;
  /** Type of the message that ended it (Frontend.*), or Frontend.CopyData for copy data cut short. */
  readonly end: number;
  /** Leading bytes of data already forwarded: a message half sent when the window began. */
  readonly sent: number;
  /** Holds a Query, Execute or FunctionCall: something runs. */
  readonly runs: boolean;
  /** Only CopyData/CopyDone/CopyFail: data for a COPY already forwarded. */
  readonly copyOnly: boolean;
  /** CopyDone/CopyFail messages in it. */
  readonly copyEnds: number;
}

export function isCopyMessage(type: number): boolean {
  return type === Frontend.CopyData || type === Frontend.CopyDone || type === Frontend.CopyFail;
}

/** Ends a request the server answers with ReadyForQuery. */
export function answeredBoundary(type: number): boolean {
  return type === Frontend.Sync || type === Frontend.Query || type === Frontend.FunctionCall;
}

export class RequestAssembler {
  private readonly queue: RequestPart[] = [];
  private msgs: Buffer[] = [];
  private bytes = 0;
  private sent = 0;
  private runs = false;
  private copyOnly = false;
  private copyEnds = 0;
  /** Bytes of the next message already forwarded (set before it is added). */
  private nextSent = 0;

  /** Nothing collected and nothing waiting. */
  get idle(): boolean {
    return this.msgs.length === 0 && this.queue.length === 0;
  }

  /** A part is being collected (its boundary has not arrived). */
  get collecting(): boolean {
    return this.msgs.length > 0;
  }

  get waiting(): number {
    return this.queue.length;
  }

  peek(): RequestPart | undefined {
    return this.queue[0];
  }

  shift(): RequestPart | undefined {
    return this.queue.shift();
  }

  /** The first `n` bytes of the message about to be added were forwarded already. */
  markSent(n: number): void {
    this.nextSent = n;
  }

  /** One whole message (bytes [start, end) of buf, copied). Returns true when it ended a part. */
  add(type: number, buf: Buffer, start: number, end: number): boolean {
    const copy = isCopyMessage(type);
    if (this.copyOnly && !copy) this.finish(Frontend.CopyData);
    if (this.msgs.length === 0) {
      this.copyOnly = copy;
      this.sent = this.nextSent;
    }
    this.nextSent = 0;
    this.msgs.push(Buffer.from(buf.subarray(start, end)));
    this.bytes += end - start;
    if (type === Frontend.Query || type === Frontend.Execute || type === Frontend.FunctionCall) this.runs = true;
    if (type === Frontend.CopyDone || type === Frontend.CopyFail) {
      this.copyEnds++;
      this.finish(type);
      return true;
    }
    if (this.copyOnly) {
      // Copy data: forwarded as it comes, so a long COPY is not collected whole.
      this.finish(Frontend.CopyData);
      return true;
    }
    if (answeredBoundary(type) || type === Frontend.Flush || type === Frontend.Terminate) {
      this.finish(type);
      return true;
    }
    return false;
  }

  private finish(end: number): void {
    if (this.msgs.length === 0) return;
    const data = this.msgs.length === 1 ? this.msgs[0]! : Buffer.concat(this.msgs, this.bytes);
    this.queue.push({ data, end, sent: this.sent, runs: this.runs, copyOnly: this.copyOnly, copyEnds: this.copyEnds });
    this.startPart();
  }

  private startPart(): void {
    this.msgs = [];
    this.bytes = 0;
    this.sent = 0;
    this.runs = false;
    this.copyOnly = false;
    this.copyEnds = 0;
  }

  /** Forget everything (the session closes). */
  clear(): void {
    this.queue.length = 0;
    this.startPart();
    this.nextSent = 0;
  }
}

/** Calls fn for every message in a part's data (framing already checked by the scanner). */
export function eachMessage(data: Buffer, fn: (type: number, start: number, end: number) => void): void {
  let off = 0;
  while (off + 5 <= data.length) {
    const end = off + 1 + data.readInt32BE(off + 1);
    fn(data[off]!, off, end);
    off = end;
  }
}
