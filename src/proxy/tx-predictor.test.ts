import { describe, expect, test } from 'vitest';
import { TxPredictor } from './tx-predictor.js';

const sorted = (s: ReadonlySet<string>): string[] => [...s].sort();

describe('TxPredictor', () => {
  test('autocommit writes are visible at the end of their request; the server idle settles them', () => {
    const t = new TxPredictor();
    t.write(['a']);
    expect(sorted(t.takeRequest())).toEqual(['a']);
    t.readyForQuery('I', 1);
    t.begin();
    t.commit();
    // nothing of request 1 can commit again
    expect(sorted(t.takeRequest())).toEqual([]);
  });

  test('INSERT; BEGIN in one Query: the INSERT is folded into the transaction and its COMMIT makes it visible', () => {
    const t = new TxPredictor();
    t.write(['a']);
    t.begin();
    t.takeRequest();
    t.readyForQuery('T', 1);
    expect(t.inTx).toBe(true);
    t.commit();
    expect(sorted(t.takeRequest())).toEqual(['a']);
  });

  test('a ReadyForQuery answering an earlier request neither clears later writes nor changes the predicted state', () => {
    const t = new TxPredictor();
    t.write(['b']); // request 1, autocommit
    t.takeRequest();
    t.begin(); // request 2
    t.takeRequest();
    t.write(['a']); // request 3, in the transaction
    expect(sorted(t.takeRequest())).toEqual([]);
    t.readyForQuery('I', 1); // answers request 1 only
    expect(t.inTx).toBe(true);
    expect(t.openPartitions()).toEqual(['a']);
    t.commit();
    expect(sorted(t.takeRequest())).toEqual(['a']);
  });

  test('the server status of the last request sets the state when the current request changed nothing', () => {
    const t = new TxPredictor();
    t.begin();
    t.takeRequest();
    t.readyForQuery('I', 1); // the BEGIN failed
    expect(t.inTx).toBe(false);
    t.write(['a']);
    expect(sorted(t.takeRequest())).toEqual(['a']);
  });

  test('a COMMIT that may have been skipped keeps the writes: ROLLBACK TO SAVEPOINT then COMMIT still shows them', () => {
    const t = new TxPredictor();
    t.begin();
    t.write(['a']);
    t.commit(); // predicted to commit; an error before it may have kept the transaction open
    expect(sorted(t.takeRequest())).toEqual(['a']);
    t.write(['b']); // request 2: predicted autocommit
    t.takeRequest();
    t.commit(); // request 3
    expect(sorted(t.takeRequest())).toEqual(['a', 'b']);
    t.readyForQuery('E', 1);
    t.readyForQuery('E', 2);
    t.readyForQuery('I', 3);
    expect(t.openPartitions()).toEqual([]);
  });

  test('PREPARE TRANSACTION returns what it may hold and is visible; COMMIT PREPARED shows its set', () => {
    const t = new TxPredictor();
    t.begin();
    t.write(['a', 'b']);
    const held = t.prepare();
    expect(sorted(held)).toEqual(['a', 'b']);
    expect(t.inTx).toBe(false);
    expect(sorted(t.takeRequest())).toEqual(['a', 'b']);
    t.commitPrepared(new Set(['c']));
    expect(sorted(t.takeRequest())).toEqual(['c']);
  });

  test('COMMIT AND CHAIN keeps a transaction open', () => {
    const t = new TxPredictor();
    t.begin();
    t.commit(true);
    expect(t.inTx).toBe(true);
    t.rollback(true);
    expect(t.inTx).toBe(true);
    t.rollback();
    expect(t.inTx).toBe(false);
  });
});
