import { describe, expect, test } from 'vitest';
import { foreignLeafFromRow, parseGenericOptions } from './foreign.js';

describe('foreign leaves', () => {
  test('generic options split at the first =', () => {
    expect(parseGenericOptions(['host=10.0.0.1', 'options=-c a=b', 'bad'])).toEqual(
      new Map([
        ['host', '10.0.0.1'],
        ['options', '-c a=b'],
      ]),
    );
    expect(parseGenericOptions(null).size).toBe(0);
  });

  test('remote names default to the local ones, server options are read', () => {
    const row = { schema: 'public', name: 'w_1', server: 'shard1', wrapper: 'postgres_fdw', table_options: null, server_options: ['host=127.0.0.1', 'port=5433', 'dbname=s1'] };
    expect(foreignLeafFromRow(row)).toEqual({
      partition: 'public.w_1',
      server: 'shard1',
      wrapper: 'postgres_fdw',
      serverOptions: { host: '127.0.0.1', port: 5433, dbname: 's1' },
      remote: { schema: 'public', name: 'w_1' },
    });
    const renamed = foreignLeafFromRow({ ...row, table_options: ['schema_name=Data', 'table_name=W part'], server_options: ['port=x'] });
    expect(renamed.remote).toEqual({ schema: 'Data', name: 'W part' });
    expect(renamed.serverOptions).toEqual({ host: null, port: null, dbname: null });
  });
});
