import { describe, expect, test } from 'vitest';
import { serialize } from 'pg-protocol';
import { Frontend } from '../protocol/codes.js';
import { MessageScanner } from '../protocol/scanner.js';
import { RequestAssembler, eachMessage, type RequestPart } from './request-assembler.js';

function stream(): Buffer {
  return Buffer.concat([
    serialize.parse({ text: 'insert into t values ($1)' }),
    serialize.bind({ values: ['1'] }),
    serialize.describe({ type: 'P', name: '' }),
    serialize.execute({}),
    serialize.flush(),
    serialize.sync(),
    serialize.query('copy t from stdin'),
    serialize.copyData(Buffer.alloc(100, 7)),
    serialize.copyData(Buffer.alloc(3, 8)),
    serialize.copyDone(),
    serialize.query('select 1'),
    serialize.parse({ text: 'copy t from stdin' }),
    serialize.bind({}),
    serialize.execute({}),
    serialize.copyData(Buffer.alloc(5, 9)),
    serialize.copyFail('no'),
    serialize.sync(),
    serialize.end(),
  ]);
}

interface Shape {
  end: number;
  types: string;
  runs: boolean;
  copyOnly: boolean;
  copyEnds: number;
  bytes: string;
}
function shape(p: RequestPart): Shape {
  let types = '';
  eachMessage(p.data, (t) => (types += String.fromCharCode(t)));
  return { end: p.end, types, runs: p.runs, copyOnly: p.copyOnly, copyEnds: p.copyEnds, bytes: p.data.toString('hex') };
}

function assemble(chunks: Buffer[]): Shape[] {
  const a = new RequestAssembler();
  const scanner = new MessageScanner(new Uint8Array(256), 1 << 20, {
    message: (type, buf, start, end) => a.add(type, buf, start, end),
    invalid: (r) => {
      throw new Error(r);
    },
  });
  scanner.collectAll = true;
  for (const c of chunks) scanner.scan(c);
  const out: Shape[] = [];
  for (let p = a.shift(); p; p = a.shift()) out.push(shape(p));
  expect(a.idle).toBe(true);
  return out;
}

describe('RequestAssembler', () => {
  test('parts end at Flush, Sync, Query, CopyDone/CopyFail, Terminate; copy data after a forwarded COPY goes on its own', () => {
    const parts = assemble([stream()]);
    expect(parts.map((p) => [p.types, p.runs, p.copyOnly, p.copyEnds])).toEqual([
      ['PBDEH', true, false, 0],
      ['S', false, false, 0],
      ['Q', true, false, 0],
      ['d', false, true, 0],
      ['d', false, true, 0],
      ['c', false, true, 1],
      ['Q', true, false, 0],
      ['PBEdf', true, false, 1],
      ['S', false, false, 0],
      ['X', false, false, 0],
    ]);
    expect(parts.map((p) => p.end)).toEqual([
      Frontend.Flush,
      Frontend.Sync,
      Frontend.Query,
      Frontend.CopyData,
      Frontend.CopyData,
      Frontend.CopyDone,
      Frontend.Query,
      Frontend.CopyFail,
      Frontend.Sync,
      Frontend.Terminate,
    ]);
  });

  test('the same parts at every split of the stream into two and three chunks', () => {
    const s = stream();
    const whole = assemble([s]);
    for (let i = 1; i < s.length; i++) {
      expect(assemble([s.subarray(0, i), s.subarray(i)])).toEqual(whole);
    }
    for (let i = 1; i < s.length; i += 7) {
      for (let j = i + 1; j < s.length; j += 5) expect(assemble([s.subarray(0, i), s.subarray(i, j), s.subarray(j)])).toEqual(whole);
    }
  });

  test('parts are copies: reusing the chunk afterwards changes nothing', () => {
    const s = stream();
    const a = new RequestAssembler();
    const scanner = new MessageScanner(new Uint8Array(256), 1 << 20, { message: (t, b, st, e) => a.add(t, b, st, e), invalid: () => undefined });
    scanner.collectAll = true;
    const chunk = Buffer.from(s);
    scanner.scan(chunk);
    chunk.fill(0);
    expect(shape(a.shift()!).bytes).toBe(assemble([s])[0]!.bytes);
  });

  test('a message half sent before gating carries how many of its bytes went out', () => {
    const a = new RequestAssembler();
    const q = serialize.query('insert into t values (1)');
    a.markSent(7);
    a.add(q[0]!, q, 0, q.length);
    const p = a.shift()!;
    expect(p.sent).toBe(7);
    expect(p.data.equals(q)).toBe(true);
    a.add(q[0]!, q, 0, q.length);
    expect(a.shift()!.sent).toBe(0);
  });
});
