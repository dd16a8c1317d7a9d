import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { testNodeConfig } from './helpers/node.js';
import { startTestCluster } from './helpers/pg.js';
import { RawClient, serialize } from './helpers/raw-client.js';
import { waitFor } from './helpers/invariants.js';
import { TestWindow } from './helpers/test-window.js';

/**
 * The gate under legal but less common client traffic (issue #11, items 2–5): pipelining,
 * multi-statement Query strings, COPY over the extended protocol, requests split in time, and
 * one namespace for SQL PREPARE and protocol Parse. Raw bytes through a real node in front of a
 * real PostgreSQL; the server's own rows are the truth.
 */
let cluster: LocalCluster;
let node: RunningNode;
let nextId = 1;
const P0 = 'public.g_0';

beforeAll(async () => {
  cluster = await startTestCluster();
  await cluster.query(
    `CREATE TABLE g (id bigint NOT NULL, p int NOT NULL) PARTITION BY LIST (p);
     CREATE TABLE g_0 PARTITION OF g FOR VALUES IN (0);
     CREATE TABLE g_1 PARTITION OF g FOR VALUES IN (1);`,
    [],
    'demo',
  );
  node = await runNode(testNodeConfig(cluster.url('demo')), silentLogger);
});
afterAll(async () => {
  await node?.stop();
  await cluster?.stop();
});

let raw: RawClient;
beforeEach(async () => {
  raw = await RawClient.startup(node.proxy.address.port);
  return () => raw.end();
});

const id = (): number => nextId++;
const insert = (i: number, p = 0): string => `insert into g values (${i}, ${p})`;
const q = (sql: string): Buffer => serialize.query(sql);
const ext = (sql: string, name = ''): Buffer => Buffer.concat([serialize.parse({ name, text: sql }), serialize.bind({ statement: name }), serialize.execute({})]);
const sync = (): Buffer => serialize.sync();

async function present(...ids: number[]): Promise<number[]> {
  const { rows } = await cluster.query<{ id: string }>('select id::text from g where id = any($1) order by g.id', [ids], 'demo');
  return rows.map((r) => Number(r.id));
}
type Msg = { name: string; status?: string; code?: string; text?: string };
const msgs = (): Msg[] => raw.messages as unknown as Msg[];
const statuses = (): string[] => msgs().filter((m) => m.name === 'readyForQuery').map((m) => m.status!);
const errors = (): string[] => msgs().filter((m) => m.name === 'error').map((m) => m.code!);
async function answers(n: number): Promise<void> {
  await raw.countOf('readyForQuery', n);
}
/** The server's view of this client's backend: is it idle (no open transaction)? */
async function backendState(): Promise<string> {
  const { rows } = await cluster.query<{ state: string }>(
    "select state from pg_stat_activity where datname = 'demo' and backend_type = 'client backend' and application_name = '' and pid <> pg_backend_pid() and query not like '%pg_stat_activity%' order by backend_start desc limit 1",
  );
  return rows[0]?.state ?? 'none';
}

describe('2. transaction state under pipelining', () => {
  test('reject mode: a pipelined BEGIN/INSERT/COMMIT gets its COMMIT rejected, the server rolls back, the next COMMIT commits nothing', async () => {
    const w = new TestWindow(node.gate, [P0], 'reject').open();
    try {
      const a = id();
      raw.send(Buffer.concat([q('begin'), q(insert(a)), q('commit')]));
      await answers(3);
      expect(errors()).toEqual(['55P03']);
      // What the client is told equals what the server did: idle, nothing open.
      expect(statuses()).toEqual(['T', 'T', 'I']);
      raw.messages.length = 0;
      raw.send(q('commit'));
      await answers(1);
      expect(statuses()).toEqual(['I']);
      expect(await present(a)).toEqual([]);
    } finally {
      w.close();
    }
    expect(await present()).toEqual([]);
  });

  test('INSERT; BEGIN in one Query before the window: the INSERT is folded into the transaction and its COMMIT is held', async () => {
    const a = id();
    raw.send(q(`${insert(a)}; begin`));
    await answers(1);
    expect(statuses()).toEqual(['T']);
    const w = new TestWindow(node.gate, [P0]).open();
    try {
      raw.send(q('commit'));
      await waitFor('the COMMIT to be held', () => w.held.length === 1);
      expect(await present(a)).toEqual([]);
    } finally {
      w.close();
    }
    await answers(2);
    expect(await present(a)).toEqual([a]);
  });

  test('a ReadyForQuery answering an earlier request does not hide a transaction pipelined after it', async () => {
    const a = id();
    const b = id();
    // autocommit write to another partition, then a transaction on P0, all in one packet
    raw.send(Buffer.concat([q(insert(b, 1)), q('begin'), q(insert(a))]));
    await answers(3);
    expect(statuses()).toEqual(['I', 'T', 'T']);
    const w = new TestWindow(node.gate, [P0]).open();
    try {
      raw.send(q('commit'));
      await waitFor('the COMMIT to be held', () => w.held.length === 1);
      expect(await present(a)).toEqual([]);
    } finally {
      w.close();
    }
    await answers(4);
    expect(await present(a, b)).toEqual([a, b]);
  });

  test('an error that skips a BEGIN turns the next write into an autocommit write: it is held', async () => {
    const w = new TestWindow(node.gate, [P0]).open();
    const a = id();
    try {
      raw.send(Buffer.concat([q('select 1/0; begin'), q(insert(a))]));
      await waitFor('the autocommit INSERT to be held', () => w.held.length === 1);
      await answers(1);
      expect(errors()).toEqual(['22012']);
      expect(await present(a)).toEqual([]);
    } finally {
      w.close();
    }
    await answers(2);
    expect(statuses()).toEqual(['I', 'I']);
    expect(await present(a)).toEqual([a]);
  });

  test('extended protocol: Executes before Sync share one implicit block; a BEGIN in it opens a transaction whose COMMIT is held', async () => {
    const a = id();
    raw.send(Buffer.concat([ext(insert(a)), ext('begin'), sync()]));
    await answers(1);
    expect(statuses()).toEqual(['T']);
    const w = new TestWindow(node.gate, [P0]).open();
    try {
      raw.send(Buffer.concat([ext('commit'), sync()]));
      await waitFor('the COMMIT to be held', () => w.held.length === 1);
      expect(await present(a)).toEqual([]);
    } finally {
      w.close();
    }
    await answers(2);
    expect(await present(a)).toEqual([a]);
  });

  test('reject mode, savepoints: a rejected COMMIT after ROLLBACK TO SAVEPOINT leaves nothing committed and the session idle', async () => {
    const w = new TestWindow(node.gate, [P0], 'reject').open();
    const a = id();
    const b = id();
    try {
      raw.send(Buffer.concat([q(`begin; ${insert(a)}; savepoint s1; ${insert(b)}`), q('rollback to savepoint s1'), q('commit')]));
      await answers(3);
      expect(errors()).toEqual(['55P03']);
      expect(statuses()).toEqual(['T', 'T', 'I']);
      expect(await backendState()).toBe('idle');
    } finally {
      w.close();
    }
    expect(await present(a, b)).toEqual([]);
  });
});

describe('3. COPY over the extended protocol', () => {
  test('Parse/Bind/Execute/Sync then CopyData/CopyDone/Sync: the proxy stays in step, and a later reject gets its error', async () => {
    const a = id();
    const b = id();
    raw.send(Buffer.concat([ext('copy g from stdin'), sync()]));
    await raw.until((m) => m.name === 'copyInResponse');
    raw.send(Buffer.concat([serialize.copyData(Buffer.from(`${a}\t1\n${b}\t1\n`)), serialize.copyDone(), sync()]));
    await answers(1);
    expect(await present(a, b)).toEqual([a, b]);
    // one answer for the two Syncs, as PostgreSQL gives; nothing owed is left over
    const session = [...node.proxy.sessions].find((s) => s.phase === 'ready' && !s.idle);
    expect(session).toBeUndefined();
    const w = new TestWindow(node.gate, [P0], 'reject').open();
    try {
      // the drain is not waiting for an answer that never comes
      await w.drained();
      raw.messages.length = 0;
      const c = id();
      raw.send(q(insert(c)));
      await answers(1);
      expect(errors()).toEqual(['55P03']);
      expect(await present(c)).toEqual([]);
    } finally {
      w.close();
    }
  });

  test('a write sent right after CopyDone in the same packet is held', async () => {
    const w = new TestWindow(node.gate, [P0]).open();
    const a = id();
    const b = id();
    try {
      // into the other partition (a COPY into g may write the windowed one: it would be held)
      raw.send(q('copy g_1 from stdin'));
      await raw.until((m) => m.name === 'copyInResponse');
      raw.send(Buffer.concat([serialize.copyData(Buffer.from(`${a}\t1\n`)), serialize.copyDone(), q(insert(b))]));
      await answers(1);
      await waitFor('the INSERT after CopyDone to be held', () => w.held.length === 1);
      expect(await present(a, b)).toEqual([a]);
    } finally {
      w.close();
    }
    await answers(2);
    expect(await present(a, b)).toEqual([a, b]);
  });

  test('extended COPY into the windowed partition, CopyFail: held whole, then fails on the server; the session stays in step', async () => {
    const w = new TestWindow(node.gate, [P0]).open();
    const a = id();
    try {
      raw.send(Buffer.concat([ext('copy g from stdin'), sync()]));
      await waitFor('the COPY to be held', () => w.held.length === 1);
      expect(msgs().some((m) => m.name === 'copyInResponse')).toBe(false);
    } finally {
      w.close();
    }
    await raw.until((m) => m.name === 'copyInResponse');
    raw.send(Buffer.concat([serialize.copyData(Buffer.from(`${a}\t0\n`)), serialize.copyFail('client gave up'), sync()]));
    await answers(1);
    expect(errors()).toEqual(['57014']);
    raw.messages.length = 0;
    raw.send(q('select 1'));
    await answers(1);
    expect(errors()).toEqual([]);
    expect(await present(a)).toEqual([]);
  });
});

describe('4. requests split in time', () => {
  test('Parse/Bind before the window, Execute/Sync after it: the rest is held, nothing commits while holding', async () => {
    const a = id();
    raw.send(Buffer.concat([serialize.parse({ text: 'insert into g values ($1, 0)' }), serialize.bind({ values: [String(a)] })]));
    // the server has them (a Flush would answer ParseComplete/BindComplete)
    raw.send(serialize.flush());
    await raw.until((m) => m.name === 'bindComplete');
    const w = new TestWindow(node.gate, [P0]).open();
    try {
      await w.drained();
      raw.send(Buffer.concat([serialize.execute({}), sync()]));
      await waitFor('the Execute/Sync to be held', () => w.held.length === 1);
      expect(await present(a)).toEqual([]);
    } finally {
      w.close();
    }
    await answers(1);
    expect(await present(a)).toEqual([a]);
  });

  test('reject mode: the rest of a split request is rejected and the part already on the server commits nothing', async () => {
    const a = id();
    const b = id();
    raw.send(Buffer.concat([ext(`insert into g values (${b}, 1)`), serialize.parse({ text: 'insert into g values ($1, 0)' }), serialize.bind({ values: [String(a)] }), serialize.flush()]));
    await raw.until((m) => m.name === 'commandComplete');
    const w = new TestWindow(node.gate, [P0], 'reject').open();
    try {
      raw.send(Buffer.concat([serialize.execute({}), sync()]));
      await answers(1);
      expect(errors()).toEqual(['55P03']);
      expect(statuses()).toEqual(['I']);
      expect(await backendState()).toBe('idle');
    } finally {
      w.close();
    }
    expect(await present(a, b)).toEqual([]);
  });

  test('a write forwarded before the window with its Sync still to come: the drain waits for it, and its Sync is admitted', async () => {
    const a = id();
    raw.send(Buffer.concat([ext(insert(a)), serialize.flush()]));
    await raw.until((m) => m.name === 'commandComplete');
    const w = new TestWindow(node.gate, [P0]).open();
    let drained = false;
    const drain = w.drained().then(() => {
      drained = true;
    });
    try {
      // not drained while the write is in flight on the server
      await new Promise((r) => setImmediate(r));
      expect(drained).toBe(false);
      raw.send(sync());
      await drain;
      await answers(1);
      expect(w.held).toHaveLength(0);
      expect(await present(a)).toEqual([a]);
    } finally {
      w.close();
    }
  });

  test('a Query half sent when the window begins is completed only when released', async () => {
    const a = id();
    const bytes = q(insert(a));
    const cut = 9;
    const before = node.proxy.counters.clientToServer;
    raw.send(bytes.subarray(0, cut));
    // the proxy has framed the first bytes (it forwards as it reads)
    await waitFor('the first bytes forwarded', () => node.proxy.counters.clientToServer >= before + cut);
    const w = new TestWindow(node.gate, [P0]).open();
    try {
      raw.send(bytes.subarray(cut));
      await waitFor('the rest of the Query to be held', () => w.held.length === 1);
      expect(await present(a)).toEqual([]);
    } finally {
      w.close();
    }
    await answers(1);
    expect(await present(a)).toEqual([a]);
  });

  test('reject mode: a Query half sent when the window begins fails on the server and the client gets 55P03', async () => {
    const a = id();
    const bytes = q(insert(a));
    const before = node.proxy.counters.clientToServer;
    raw.send(bytes.subarray(0, 12));
    await waitFor('the first bytes forwarded', () => node.proxy.counters.clientToServer >= before + 12);
    const w = new TestWindow(node.gate, [P0], 'reject').open();
    try {
      raw.send(bytes.subarray(12));
      await answers(1);
      expect(errors()).toEqual(['55P03']);
      raw.messages.length = 0;
      raw.send(q('select 1'));
      await answers(1);
      expect(errors()).toEqual([]);
    } finally {
      w.close();
    }
    expect(await present(a)).toEqual([]);
  });
});

describe('4b. a message that runs, half sent when the window begins', () => {
  // The tail of an Execute is a row count and the tail of a FunctionCall a format code: no filler
  // makes them invalid, so a half-sent one must never reach the server before it is decided.
  /** A request answered with no window open: the session forwards as it reads again. */
  const ungated = async (): Promise<void> => {
    raw.messages.length = 0;
    raw.send(q('select 1'));
    await answers(1);
    raw.messages.length = 0;
  };
  const execute = serialize.execute({});
  /** BEGIN, an insert and the COMMIT's Parse/Bind whole, its Execute up to `cut`: returns the row's id once the proxy has read it all. */
  const halfCommit = async (cut: number): Promise<number> => {
    await ungated();
    const a = id();
    const prefix = Buffer.concat([ext('begin'), ext(insert(a)), serialize.parse({ text: 'commit' }), serialize.bind({})]);
    const before = node.proxy.counters.clientToServer;
    raw.send(Buffer.concat([prefix, execute.subarray(0, cut)]));
    // read in one chunk: the proxy has forwarded what precedes the half message
    await waitFor('the first bytes read', () => node.proxy.counters.clientToServer >= before + prefix.length);
    return a;
  };

  test('reject mode: a COMMIT whose Execute is cut at any byte commits nothing, and the client is told so', async () => {
    for (let cut = 1; cut < execute.length; cut++) {
      const a = await halfCommit(cut);
      const w = new TestWindow(node.gate, [P0], 'reject').open();
      try {
        await w.drained();
        raw.send(Buffer.concat([execute.subarray(cut), sync()]));
        await answers(1);
        expect(errors(), `cut ${cut}`).toEqual(['55P03']);
        expect(statuses(), `cut ${cut}`).toEqual(['I']);
        expect(await present(a), `cut ${cut}: committed inside the window`).toEqual([]);
      } finally {
        w.close();
      }
      expect(await present(a), `cut ${cut}`).toEqual([]);
      expect(await backendState(), `cut ${cut}`).toBe('idle');
    }
  });

  test('hold mode: a COMMIT whose Execute is cut at any byte waits for the window, then commits', async () => {
    for (let cut = 1; cut < execute.length; cut++) {
      const a = await halfCommit(cut);
      const w = new TestWindow(node.gate, [P0]).open();
      try {
        await w.drained();
        raw.send(Buffer.concat([execute.subarray(cut), sync()]));
        await waitFor('the COMMIT to be held', () => w.held.length === 1);
        expect(await present(a), `cut ${cut}`).toEqual([]);
      } finally {
        w.close();
      }
      await answers(1);
      expect(errors(), `cut ${cut}`).toEqual([]);
      expect(await present(a), `cut ${cut}`).toEqual([a]);
    }
  });

  test('reject mode: a FunctionCall cut at any byte runs nothing', async () => {
    await cluster.query('create or replace function ins_g0(bigint) returns int language sql as $$ insert into g values ($1, 0) returning 1 $$', [], 'demo');
    const { rows } = await cluster.query<{ oid: number }>("select 'ins_g0'::regproc::oid::int as oid", [], 'demo');
    const call = (a: number): Buffer => {
      const arg = Buffer.from(String(a));
      const body = Buffer.alloc(4 + 2 + 2 + 2 + 4 + arg.length + 2);
      let o = body.writeInt32BE(rows[0]!.oid, 0);
      o = body.writeInt16BE(1, o);
      o = body.writeInt16BE(0, o); // text argument
      o = body.writeInt16BE(1, o);
      o = body.writeInt32BE(arg.length, o);
      o += arg.copy(body, o);
      body.writeInt16BE(0, o); // text result
      const head = Buffer.alloc(5);
      head[0] = 0x46;
      head.writeInt32BE(4 + body.length, 1);
      return Buffer.concat([head, body]);
    };
    // every call has the same length: ids of the same digit count
    const length = call(1_000_000).length;
    const ids = Array.from({ length: length + 1 }, () => 1_000_000 + id());
    // no window: the call writes its row
    const first = ids.pop()!;
    raw.send(call(first));
    await answers(1);
    expect(await present(first)).toEqual([first]);
    for (let cut = 1; cut < length; cut++) {
      await ungated();
      const a = ids[cut]!;
      const bytes = call(a);
      // a Sync first: the proxy has read everything before the half message once its answer is back
      raw.send(Buffer.concat([sync(), bytes.subarray(0, cut)]));
      await answers(1);
      const w = new TestWindow(node.gate, [P0], 'reject').open();
      try {
        await w.drained();
        raw.send(bytes.subarray(cut));
        await answers(2);
        expect(errors(), `cut ${cut}`).toEqual(['55P03']);
        expect(await present(a), `cut ${cut}: the function ran`).toEqual([]);
      } finally {
        w.close();
      }
      expect(await backendState(), `cut ${cut}`).toBe('idle');
    }
  });
});

describe('a message quietcut cannot decode', () => {
  // A Query whose text no NUL ends: PostgreSQL refuses it ("invalid string in message") and runs nothing.
  const unterminated = (sql: string): Buffer => {
    const body = Buffer.from(sql, 'utf8');
    const b = Buffer.alloc(5 + body.length);
    b[0] = 0x51;
    b.writeInt32BE(4 + body.length, 1);
    body.copy(b, 5);
    return b;
  };

  test('no window: the server refuses it as it would directly and the session goes on', async () => {
    const direct = await RawClient.startup(cluster.port);
    try {
      for (const c of [direct, raw]) {
        c.send(unterminated(insert(id())));
        await c.countOf('readyForQuery', 1);
      }
      const shape = (c: RawClient): string[] => (c.messages as unknown as Msg[]).map((m) => `${m.name}:${m.code ?? m.status ?? ''}`);
      expect(shape(raw)).toEqual(shape(direct));
      expect(shape(raw)).toEqual(['error:08P01', 'readyForQuery:I']);
    } finally {
      await direct.end();
    }
    raw.messages.length = 0;
    raw.send(q('select 1'));
    await answers(1);
    expect(errors()).toEqual([]);
  });

  test('while a window is open it counts as a write of unknown reach: held until the window ends, then the server refuses it', async () => {
    const w = new TestWindow(node.gate, [P0]).open();
    try {
      raw.send(unterminated(insert(id(), 1)));
      await waitFor('the undecodable Query to be held', () => w.held.length === 1);
      expect(msgs()).toEqual([]);
    } finally {
      w.close();
    }
    await answers(1);
    expect(errors()).toEqual(['08P01']);
    expect(statuses()).toEqual(['I']);
  });
});

describe('reject paths of the extended protocol, window open throughout', () => {
  test('rejected at Flush: the error, then the ReadyForQuery at Sync; then a request whose first part ran is undone', async () => {
    const w = new TestWindow(node.gate, [P0], 'reject').open();
    const a = id();
    const b = id();
    const c = id();
    try {
      raw.send(Buffer.concat([ext(insert(a)), serialize.flush()]));
      await raw.until((m) => m.name === 'error');
      expect(statuses()).toEqual([]);
      raw.send(sync());
      await answers(1);
      expect(statuses()).toEqual(['I']);
      raw.messages.length = 0;
      raw.send(Buffer.concat([ext(insert(b, 1)), serialize.flush()]));
      await raw.until((m) => m.name === 'commandComplete');
      raw.send(Buffer.concat([ext(insert(c)), sync()]));
      await answers(1);
      expect(errors()).toEqual(['55P03']);
      expect(statuses()).toEqual(['I']);
    } finally {
      w.close();
    }
    expect(await present(a, b, c)).toEqual([]);
  });
});

describe('5. one statement namespace', () => {
  test('SQL PREPARE, then protocol Bind/Execute of it: held', async () => {
    const a = id();
    raw.send(q('prepare ins_sql (bigint) as insert into g values ($1, 0)'));
    await answers(1);
    const w = new TestWindow(node.gate, [P0]).open();
    try {
      raw.send(Buffer.concat([serialize.bind({ statement: 'ins_sql', values: [String(a)] }), serialize.execute({}), sync()]));
      await waitFor('the Execute of a SQL-prepared write to be held', () => w.held.length === 1);
      expect(await present(a)).toEqual([]);
    } finally {
      w.close();
    }
    await answers(2);
    expect(await present(a)).toEqual([a]);
  });

  test('protocol Parse, then SQL EXECUTE of it: held', async () => {
    const a = id();
    raw.send(Buffer.concat([serialize.parse({ name: 'ins_proto', text: 'insert into g values ($1, $2)' }), sync()]));
    await answers(1);
    const w = new TestWindow(node.gate, [P0]).open();
    try {
      raw.send(q(`execute ins_proto(${a}, 0)`));
      await waitFor('the SQL EXECUTE of a Parsed write to be held', () => w.held.length === 1);
      expect(await present(a)).toEqual([]);
      // the same statement to the other partition passes
      w.close();
      await answers(2);
    } finally {
      w.close();
    }
    expect(await present(a)).toEqual([a]);
  });

  test('DEALLOCATE, DISCARD ALL and Close forget a statement; a new one under the same name is classified as itself', async () => {
    // One packet, so every Parse below is read before the server has answered the DISCARD ALL (a
    // pooler's client does this): while a settings change is pending, a statement that writes
    // nothing still reads as itself (ASCII, no backslash), and one that writes stays unknown.
    const later = id();
    raw.send(
      Buffer.concat([
        q('prepare n3 as insert into g values (1000002, 0)'),
        q('discard all'),
        q('prepare n3 as select 3'),
        q('prepare n1 as insert into g values (1000000, 0)'),
        q('deallocate n1'),
        q('prepare n1 as select 1'),
        serialize.parse({ name: 'n2', text: 'insert into g values (1000001, 0)' }),
        serialize.close({ type: 'S', name: 'n2' } as never),
        serialize.parse({ name: 'n2', text: 'select 2' }),
        serialize.parse({ name: 'n4', text: 'insert into g values ($1, 1)' }),
        sync(),
      ]),
    );
    await answers(7);
    expect(errors()).toEqual([]);
    const w = new TestWindow(node.gate, [P0]).open();
    try {
      raw.messages.length = 0;
      raw.send(Buffer.concat([q('execute n1'), serialize.bind({ statement: 'n2' }), serialize.execute({}), sync(), q('execute n3')]));
      await answers(3);
      expect(errors()).toEqual([]);
      expect(w.held).toHaveLength(0);
      // n4 writes to g_1, outside the window, but was parsed while the settings were unsettled:
      // it counts as writing anything, so it waits.
      raw.send(Buffer.concat([serialize.bind({ statement: 'n4', values: [String(later)] }), serialize.execute({}), sync()]));
      await waitFor('the Execute of a write parsed while settings were pending to be held', () => w.held.length === 1);
      expect(await present(later)).toEqual([]);
    } finally {
      w.close();
    }
    await answers(4);
    expect(errors()).toEqual([]);
    expect(await present(later)).toEqual([later]);
  });
});
