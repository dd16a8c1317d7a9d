/**
 * The responses a session owes its client, in the order the client asked for them: one entry per
 * request boundary that PostgreSQL answers with a ReadyForQuery (Query, Sync, FunctionCall).
 *
 * An entry is the server's answer (forward it), the answer to a request the proxy substituted
 * (drop it: the client never sent that request), or an answer the proxy makes up (a rejection,
 * sent when everything owed before it has been sent). Pure bookkeeping: the session feeds it
 * ReadyForQuery and CopyInResponse and asks what to do.
 *
 * COPY FROM STDIN: in copy-in mode the server ignores Sync (and Flush) until CopyDone or CopyFail.
 * A client using the extended protocol sends Parse/Bind/Execute/Sync, then CopyData…CopyDone/Sync:
 * two Syncs, one ReadyForQuery. So when the server says CopyInResponse, the Syncs the client sent
 * after the COPY and before its copy end get no answer: their entries are folded into the entry
 * that is answered (`absorbing`), which then also releases their in-flight partitions.
 */

export const Owed = {
  /** The server's response: forward it. */
  Server: 0,
  /** The server's response to a request the proxy sent in the client's place: drop it up to its ReadyForQuery. */
  Swallow: 1,
  /** A response the proxy makes up: send when everything before it was sent. */
  Synthetic: 2,
} as const;
export type OwedKind = (typeof Owed)[keyof typeof Owed];

export interface OwedEntry {
  kind: OwedKind;
  /** Synthetic: the bytes to send. */
  bytes: Buffer | null;
  /** Partitions registered in flight for the drain, released when this entry is answered. */
  inflight: ReadonlySet<string> | null;
  /** Further in-flight sets folded in from entries whose Sync the server ignored (COPY). */
  more: Array<ReadonlySet<string>> | null;
  /** The inspector's number of the request this answers. */
  request: number;
  /** Boundary was a Query (simple protocol) rather than a Sync. */
  simple: boolean;
  /** CopyDone/CopyFail messages the client sent in this entry's segment (before its boundary). */
  copyEnds: number;
  /** Of those, how many ended a COPY the server started earlier. */
  copyEndsUsed: number;
  /** The server is in copy-in mode for this entry: later Sync entries up to a copy end fold into it. */
  absorbing: boolean;
  /**
   * Swallow only: answers to parts of the client's request sent before it come first and are the
   * client's; dropping starts at the substitute's own marker error (or at its ReadyForQuery).
   */
  marked: boolean;
}

export interface LedgerSink {
  /** Bytes for the client (made-up responses). */
  toClient(bytes: Buffer): void;
  inflightDone(partitions: ReadonlySet<string>): void;
}

export class ResponseLedger {
  private entries: OwedEntry[] = [];
  private head = 0;
  /** Server entries (forwarded or substituted requests) not yet answered. */
  private serverOwed = 0;

  constructor(private readonly sink: LedgerSink) {}

  /** Requests whose answer the server still owes (the session is caught up when this is 0). */
  get outstanding(): number {
    return this.serverOwed;
  }

  get empty(): boolean {
    return this.head === this.entries.length;
  }

  /** Drop the server's messages now (the head is a substituted request). */
  get dropping(): boolean {
    const h = this.entries[this.head];
    return h !== undefined && h.kind === Owed.Swallow && !h.marked;
  }

  /** The head is a substituted request whose marker has not been seen: judge each message. */
  get marked(): boolean {
    const h = this.entries[this.head];
    return h !== undefined && h.marked;
  }

  /** The substitute's marker arrived: drop from here on. */
  unmark(): void {
    const h = this.entries[this.head];
    if (h) h.marked = false;
  }

  describe(): string {
    return this.entries
      .slice(this.head)
      .map((e) => `${['S', 'W', 'Y'][e.kind]}${e.request}${e.absorbing ? 'a' : ''}${e.marked ? 'm' : ''}${e.simple ? 's' : ''}c${e.copyEnds}/${e.copyEndsUsed}`)
      .join(',');
  }

  /** Kind of the entry at the head (null: nothing owed). */
  get headKind(): OwedKind | null {
    return this.entries[this.head]?.kind ?? null;
  }

  /** The inspector's number of the request the server is answering now (0: none). */
  get answering(): number {
    return this.entries[this.head]?.request ?? 0;
  }

  /** The common case, without an options object: a forwarded request's answer. */
  oweServer(request: number, inflight: ReadonlySet<string> | null, simple: boolean, copyEnds: number): void {
    const tail = this.entries[this.entries.length - 1];
    if (tail !== undefined && tail.absorbing) {
      this.owe(Owed.Server, request, { inflight, simple, copyEnds });
      return;
    }
    this.entries.push({ kind: Owed.Server, bytes: null, inflight, more: null, request, simple, copyEnds, copyEndsUsed: 0, absorbing: false, marked: false });
    this.serverOwed++;
  }

  owe(kind: OwedKind, request: number, opts: { bytes?: Buffer; inflight?: ReadonlySet<string> | null; simple?: boolean; copyEnds?: number; marked?: boolean } = {}): void {
    const e: OwedEntry = {
      kind,
      bytes: opts.bytes ?? null,
      inflight: opts.inflight ?? null,
      more: null,
      request,
      simple: opts.simple ?? false,
      copyEnds: opts.copyEnds ?? 0,
      copyEndsUsed: 0,
      absorbing: false,
      marked: opts.marked ?? false,
    };
    if (kind === Owed.Synthetic && this.empty) {
      // Nothing before it is outstanding.
      if (e.bytes) this.sink.toClient(e.bytes);
      return;
    }
    const tail = this.entries[this.entries.length - 1];
    if (tail && tail.absorbing) {
      if (kind !== Owed.Server) {
        tail.absorbing = false;
      } else if (!tail.simple) {
        this.absorb(tail, e);
        return;
      } else if (e.copyEnds > 0) {
        // Its copy end finishes the simple-protocol COPY; its own boundary is answered as usual.
        tail.absorbing = false;
        e.copyEndsUsed = 1;
      } else {
        this.merge(tail, e);
        return;
      }
    }
    this.entries.push(e);
    if (kind !== Owed.Synthetic) this.serverOwed++;
  }

  /**
   * The server sent CopyInResponse: it now reads copy data for the request at the head. Returns
   * true when that is a simple-protocol COPY whose copy end the client has not sent yet: the
   * session then gives the next copy end to it (simpleCopyEnded), not to a later request.
   */
  copyIn(): boolean {
    const h = this.entries[this.head];
    if (!h || h.kind !== Owed.Server) return false;
    if (!h.simple && h.copyEnds > h.copyEndsUsed) {
      // The copy ends inside this same segment: its Sync is read after the copy end.
      h.copyEndsUsed++;
      return false;
    }
    if (h.simple) {
      // Answered after the copy: Sync entries before the copy end get no answer of their own.
      const i = this.head + 1;
      while (i < this.entries.length) {
        const n = this.entries[i]!;
        if (n.kind !== Owed.Server) return false;
        if (n.copyEnds > n.copyEndsUsed) {
          n.copyEndsUsed++;
          return false;
        }
        this.entries.splice(i, 1);
        this.serverOwed--;
        this.merge(h, n);
      }
      h.absorbing = true;
      return true;
    }
    // Extended protocol: this entry's Sync is ignored; the answer comes at the Sync after the copy end.
    h.absorbing = true;
    while (h.absorbing && this.head + 1 < this.entries.length) {
      const n = this.entries[this.head + 1]!;
      if (n.kind !== Owed.Server) {
        h.absorbing = false;
        return false;
      }
      this.entries.splice(this.head + 1, 1);
      this.serverOwed--;
      this.absorb(h, n);
    }
    return false;
  }

  /** The client's copy end for a simple-protocol COPY in copy-in: later Syncs are answered again. */
  simpleCopyEnded(): void {
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.simple && e.absorbing) {
        e.absorbing = false;
        return;
      }
    }
  }

  private absorb(into: OwedEntry, e: OwedEntry): void {
    this.merge(into, e);
    into.request = e.request;
    into.simple = e.simple;
    if (e.copyEnds > e.copyEndsUsed) {
      into.absorbing = false;
      into.copyEnds = e.copyEnds;
      into.copyEndsUsed = e.copyEndsUsed + 1;
    }
  }

  private merge(into: OwedEntry, e: OwedEntry): void {
    if (e.inflight) (into.more ??= []).push(e.inflight);
    if (e.more) (into.more ??= []).push(...e.more);
  }

  /**
   * The server's ReadyForQuery: the head entry is answered. Returns it (null when nothing was
   * owed). Made-up answers now due are sent by flushSynthetic(), after the session has forwarded
   * this ReadyForQuery.
   */
  answered(): OwedEntry | null {
    const h = this.entries[this.head];
    if (!h) return null;
    if (h.kind === Owed.Synthetic) return null;
    this.head++;
    this.serverOwed--;
    this.release(h);
    return h;
  }

  /** Send the made-up answers at the head (everything before them has been sent). */
  flushSynthetic(): void {
    while (this.head < this.entries.length) {
      const h = this.entries[this.head]!;
      if (h.kind !== Owed.Synthetic) break;
      this.head++;
      if (h.bytes) this.sink.toClient(h.bytes);
    }
    this.compact();
  }

  /** The session is closing: release every in-flight registration. */
  clear(): void {
    for (let i = this.head; i < this.entries.length; i++) this.release(this.entries[i]!);
    this.entries = [];
    this.head = 0;
    this.serverOwed = 0;
  }

  private release(e: OwedEntry): void {
    if (e.inflight) this.sink.inflightDone(e.inflight);
    if (e.more) for (const s of e.more) this.sink.inflightDone(s);
  }

  private compact(): void {
    if (this.head === this.entries.length) {
      this.entries.length = 0;
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
