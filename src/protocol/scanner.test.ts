import { describe, expect, test } from 'vitest';
import { serialize } from 'pg-protocol';
import { Backend, Frontend } from './codes.js';
import { BufferBudget, MessageScanner, type MessageSink } from './scanner.js';
import { decodeBind, decodeParse, decodeQuery, decodeReadyForQuery, decodeCommandComplete } from './decode.js';

interface Seen {
  type: number;
  bytes: string;
}

function collect(wanted: number[], maxBytes = 1 << 20, collectAll = false): { sink: MessageSink; seen: Seen[]; errors: string[]; scanner: MessageScanner } {
  const seen: Seen[] = [];
  const errors: string[] = [];
  const sink: MessageSink = {
    message: (type, buf, start, end) => seen.push({ type, bytes: buf.subarray(start, end).toString('hex') }),
    invalid: (reason) => errors.push(reason),
  };
  const scanner = new MessageScanner(MessageScanner.types(...wanted), maxBytes, sink);
  scanner.collectAll = collectAll;
  return { sink, seen, errors, scanner };
}

/** A client stream with every message kind the proxy decodes, plus ones it only forwards. */
function clientStream(): { stream: Buffer; messages: Buffer[] } {
  const messages = [
    serialize.query('select 1'),
    serialize.parse({ name: 's1', text: 'insert into t values ($1, $2)', types: [23, 25] }),
    serialize.bind({ portal: '', statement: 's1', values: ['42', null], binary: false }),
    serialize.describe({ type: 'P', name: '' }),
    serialize.execute({ portal: '', rows: 0 }),
    serialize.sync(),
    serialize.copyData(Buffer.alloc(300, 7)),
    serialize.copyDone(),
    serialize.flush(),
    serialize.end(),
  ];
  return { stream: Buffer.concat(messages), messages };
}

function serverStream(): { stream: Buffer; messages: Buffer[] } {
  const msg = (type: number, body: Buffer): Buffer => {
    const b = Buffer.alloc(5 + body.length);
    b[0] = type;
    b.writeInt32BE(4 + body.length, 1);
    body.copy(b, 5);
    return b;
  };
  const messages = [
    msg(Backend.ParseComplete, Buffer.alloc(0)),
    msg(Backend.DataRow, Buffer.alloc(1000, 1)),
    msg(Backend.CommandComplete, Buffer.from('INSERT 0 3\0')),
    msg(Backend.ReadyForQuery, Buffer.from('T')),
    msg(Backend.ErrorResponse, Buffer.from('SERROR\0C23505\0Mdup\0\0')),
    msg(Backend.ReadyForQuery, Buffer.from('E')),
  ];
  return { stream: Buffer.concat(messages), messages };
}

describe('MessageScanner', () => {
  test('client stream split at every byte offset yields the same wanted messages, whole', () => {
    const { stream, messages } = clientStream();
    const wanted: number[] = [Frontend.Query, Frontend.Parse, Frontend.Bind, Frontend.Execute, Frontend.Sync, Frontend.Terminate];
    const expected = messages.filter((m) => wanted.includes(m[0]!)).map((m) => ({ type: m[0]!, bytes: m.toString('hex') }));
    for (let cut = 0; cut <= stream.length; cut++) {
      for (const cut2 of [cut, Math.min(stream.length, cut + 3)]) {
        const { seen, errors, scanner } = collect(wanted);
        scanner.scan(stream.subarray(0, cut));
        scanner.scan(stream.subarray(cut, cut2));
        scanner.scan(stream.subarray(cut2));
        expect(errors).toEqual([]);
        expect(seen).toEqual(expected);
        expect(scanner.atBoundary).toBe(true);
      }
    }
  });

  test('server stream split at every byte offset, collectAll reports every message', () => {
    const { stream, messages } = serverStream();
    const expected = messages.map((m) => ({ type: m[0]!, bytes: m.toString('hex') }));
    for (let cut = 0; cut <= stream.length; cut++) {
      const { seen, scanner } = collect([], 1 << 20, true);
      scanner.scan(stream.subarray(0, cut));
      scanner.scan(stream.subarray(cut));
      expect(seen).toEqual(expected);
    }
  });

  test('one byte at a time', () => {
    const { stream, messages } = serverStream();
    const { seen, scanner } = collect([Backend.ReadyForQuery, Backend.CommandComplete]);
    for (let i = 0; i < stream.length; i++) scanner.scan(stream.subarray(i, i + 1));
    expect(seen.map((s) => s.type)).toEqual([Backend.CommandComplete, Backend.ReadyForQuery, Backend.ReadyForQuery]);
    expect(seen[0]!.bytes).toBe(messages[2]!.toString('hex'));
  });

  test('stop() returns the offset right after the message', () => {
    const { stream, messages } = clientStream();
    const seen: number[] = [];
    const scanner: MessageScanner = new MessageScanner(MessageScanner.types(Frontend.Sync), 1 << 20, {
      message: (type) => {
        seen.push(type);
        scanner.stop();
      },
      invalid: () => undefined,
    });
    const syncEnd = messages.slice(0, 6).reduce((a, m) => a + m.length, 0);
    expect(scanner.scan(stream)).toBe(syncEnd);
    expect(scanner.atBoundary).toBe(true);
    expect(scanner.scan(stream, syncEnd)).toBe(stream.length);
  });

  test('negative, short and oversize lengths are reported, not framed', () => {
    for (const len of [-1, 0, 3, 0x7fffffff]) {
      const b = Buffer.alloc(9);
      b[0] = Frontend.Query;
      b.writeInt32BE(len, 1);
      const { errors, seen, scanner } = collect([Frontend.Query], 1024);
      scanner.scan(b);
      expect(seen).toEqual([]);
      expect(errors).toHaveLength(1);
    }
  });

  test('an oversize message split across chunks is refused at its header', () => {
    const { errors, scanner } = collect([Frontend.Query], 100);
    const b = Buffer.alloc(5);
    b[0] = Frontend.Query;
    b.writeInt32BE(200, 1);
    scanner.scan(b.subarray(0, 2));
    scanner.scan(b.subarray(2));
    expect(errors[0]).toMatch(/exceeds the limit of 100 bytes/);
  });
});

describe('decoders', () => {
  test('Query, Parse, Bind decode what pg-protocol serialized', () => {
    const q = serialize.query('select $1');
    expect(decodeQuery(q, 0, q.length)).toBe('select $1');
    const p = serialize.parse({ name: 'n', text: 'insert into x values ($1)', types: [20] });
    expect(decodeParse(p, 0, p.length)).toEqual({ name: 'n', sql: 'insert into x values ($1)', paramTypes: [20] });
    const bin = Buffer.from([0, 0, 0, 1]);
    const b = serialize.bind({ portal: 'p', statement: 'n', values: ['7', null, bin], valueMapper: (v) => v as Buffer | string | null });
    const d = decodeBind(b, 0, b.length);
    expect(d.portal).toBe('p');
    expect(d.statement).toBe('n');
    expect(d.params.map((x) => (x.value === null ? null : x.value.toString('hex')))).toEqual(['37', null, '00000001']);
  });

  test('ReadyForQuery and CommandComplete', () => {
    const { messages } = serverStream();
    expect(decodeReadyForQuery(messages[3]!, 0)).toBe('T');
    expect(decodeCommandComplete(messages[2]!, 0, messages[2]!.length)).toBe('INSERT 0 3');
  });
});

describe('buffers of partial messages', () => {
  const declared = (type: number, bodyBytes: number): Buffer => {
    const h = Buffer.alloc(5);
    h[0] = type;
    h.writeInt32BE(bodyBytes + 4, 1);
    return h;
  };

  test('a declared large message reserves only what arrived, growing as bytes come, and is reported whole', () => {
    const budget = new BufferBudget(1 << 30);
    const seen: Buffer[] = [];
    const s = new MessageScanner(MessageScanner.types(Frontend.Query), 1 << 30, { message: (_t, b, st, en) => seen.push(Buffer.from(b.subarray(st, en))), invalid: () => undefined }, budget);
    const body = Buffer.alloc(100 * 1024 * 1024, 0x61);
    s.scan(Buffer.concat([declared(Frontend.Query, body.length), body.subarray(0, 100)]));
    // 100 MiB declared, 105 bytes sent: a first small buffer, not the declared size.
    expect(budget.usedBytes).toBeLessThanOrEqual(16 * 1024);
    s.scan(body.subarray(100, 1024 * 1024));
    expect(s.bufferedBytes).toBeLessThanOrEqual(2 * (1024 * 1024 + 5));
    expect(budget.usedBytes).toBe(s.bufferedBytes);
    for (let off = 1024 * 1024; off < body.length; off += 7 * 1024 * 1024) s.scan(body.subarray(off, Math.min(body.length, off + 7 * 1024 * 1024)));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.length).toBe(body.length + 5);
    expect(seen[0]!.subarray(5).equals(body)).toBe(true);
    expect(budget.usedBytes).toBe(0);
  });

  test('every split of a stream still frames the same messages when buffers grow', () => {
    const { stream, messages } = clientStream();
    const big = Buffer.concat([stream, Buffer.from(serialize.query('x'.repeat(40_000)))]);
    for (let cut = 1; cut < big.length; cut += 997) {
      const budget = new BufferBudget(1 << 20);
      const seen: Seen[] = [];
      const s = new MessageScanner(MessageScanner.types(), 1 << 20, { message: (t, b, st, en) => seen.push({ type: t, bytes: b.subarray(st, en).toString('hex') }), invalid: () => undefined }, budget);
      s.collectAll = true;
      s.scan(big.subarray(0, cut));
      s.scan(big.subarray(cut));
      expect(seen.map((x) => x.bytes)).toEqual([...messages, Buffer.from(serialize.query('x'.repeat(40_000)))].map((m) => Buffer.from(m).toString('hex')));
      expect(budget.usedBytes).toBe(0);
    }
  });

  test('the shared budget refuses a client past its limit, naming limits.maxBufferedBytes, and reset gives the bytes back', () => {
    const budget = new BufferBudget(64 * 1024);
    const errors: Array<{ reason: string; overloaded: boolean | undefined }> = [];
    const sink: MessageSink = { message: () => undefined, invalid: (reason, _t, _l, overloaded) => errors.push({ reason, overloaded }) };
    const a = new MessageScanner(MessageScanner.types(Frontend.Query), 1 << 30, sink, budget);
    const b = new MessageScanner(MessageScanner.types(Frontend.Query), 1 << 30, sink, budget);
    a.scan(Buffer.concat([declared(Frontend.Query, 1 << 20), Buffer.alloc(40 * 1024)]));
    expect(errors).toEqual([]);
    b.scan(Buffer.concat([declared(Frontend.Query, 1 << 20), Buffer.alloc(40 * 1024)]));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.overloaded).toBe(true);
    expect(errors[0]!.reason).toMatch(/limit of 65536 bytes .*limits\.maxBufferedBytes/);
    // b holds nothing; a holds what it was given; a client leaving gives its share back.
    expect(b.bufferedBytes).toBe(0);
    expect(budget.usedBytes).toBe(a.bufferedBytes);
    a.reset();
    expect(budget.usedBytes).toBe(0);
  });
});
