import { describe, expect, test } from 'vitest';
import { serialize } from 'pg-protocol';
import { Frontend } from '../protocol/codes.js';
import { MessageScanner } from '../protocol/scanner.js';
import { RunsWhole } from './runs-whole.js';

const WANTED = MessageScanner.types(Frontend.Query, Frontend.Parse, Frontend.Bind, Frontend.Execute, Frontend.Sync, Frontend.FunctionCall, Frontend.CopyDone);
const RUNS = new Set<number>([Frontend.Execute, Frontend.Sync, Frontend.FunctionCall, Frontend.CopyDone]);

// FunctionCall: oid 1234, no argument formats, no arguments, text result
const fcall = Buffer.from([0x46, 0, 0, 0, 14, 0, 0, 0x04, 0xd2, 0, 0, 0, 0, 0, 0]);
const stream = Buffer.concat([
  serialize.parse({ text: 'insert into t values ($1)' }),
  serialize.bind({ values: ['1'] }),
  serialize.execute({}),
  serialize.sync(),
  serialize.query('commit'),
  serialize.copyData(Buffer.from('1\n')),
  serialize.copyDone(),
  fcall,
  serialize.flush(),
]);

/** Message boundaries of the stream: [start, end, type]. */
const messages: Array<[number, number, number]> = [];
for (let off = 0; off < stream.length; ) {
  const end = off + 1 + stream.readInt32BE(off + 1);
  messages.push([off, end, stream[off]!]);
  off = end;
}

/** Feed chunks; after each, what has reached the server so far. */
function feed(chunks: Buffer[]): number[] {
  const sent: Buffer[] = [];
  const fw = new RunsWhole((b) => sent.push(Buffer.from(b)));
  const scanner = new MessageScanner(WANTED, 1 << 20, { message: () => undefined, invalid: () => undefined });
  const after: number[] = [];
  for (const c of chunks) {
    const end = scanner.scan(c);
    fw.forward(c, end, scanner);
    const out = Buffer.concat(sent);
    expect(stream.subarray(0, out.length).equals(out)).toBe(true);
    after.push(out.length);
  }
  return after;
}

/** What may have reached the server once `read` bytes came: up to the first half-read message that runs. */
function expected(read: number): number {
  for (const [start, end, type] of messages) if (start < read && read < end) return RUNS.has(type) ? start : read;
  return read;
}

describe('RunsWhole', () => {
  test('forwards every byte in order, keeping back only a half-read message that runs, at every split in two', () => {
    for (let i = 1; i < stream.length; i++) {
      const after = feed([stream.subarray(0, i), stream.subarray(i)]);
      expect(after, `split at ${i}`).toEqual([expected(i), stream.length]);
    }
  });

  test('the same at every split in three (a message that runs spread over several chunks)', () => {
    for (let i = 1; i < stream.length; i++) {
      for (let j = i + 1; j < stream.length; j++) {
        const after = feed([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]);
        expect(after, `split at ${i}, ${j}`).toEqual([expected(i), expected(j), stream.length]);
      }
    }
  });

  test('drop() forgets what was kept back (the scanner hands the message whole to the gated path)', () => {
    const sent: Buffer[] = [];
    const fw = new RunsWhole((b) => sent.push(b));
    const scanner = new MessageScanner(WANTED, 1 << 20, { message: () => undefined, invalid: () => undefined });
    const ex = serialize.execute({});
    const chunk = ex.subarray(0, 6);
    fw.forward(chunk, scanner.scan(chunk), scanner);
    expect(fw.withheld).toBe(6);
    expect(sent).toEqual([]);
    fw.drop();
    expect(fw.withheld).toBe(0);
  });
});
