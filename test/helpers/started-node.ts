/** Asking a `quietcut start` process (spawned by a test) through its console and its metrics endpoint. */
import pg from 'pg';

/**
 * A console statement's rows, every value as the text the console sent; with `onNode`, on a console
 * session of that node (a worker of `--workers N`: sessions are reopened until SHOW NODES says `this` there).
 */
export async function consoleQuery(connectionString: string, sql: string, onNode?: string): Promise<Array<Record<string, string | null>>> {
  const open = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: connectionString.replace(/\/[^/]*$/, '/quietcut'), types: { getTypeParser: () => (v: string) => v } });
    // a node killed under the session: its query rejects; the client's own 'error' event says no more
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const self = async (c: pg.Client): Promise<string | undefined> => (await c.query<{ node: string; this: string }>('SHOW NODES')).rows.find((r) => r.this === 't')?.node;
  let c = await open();
  for (let tries = 0; onNode !== undefined && (await self(c)) !== onNode; tries++) {
    await c.end();
    if (tries === 50) throw new Error(`no console session landed on node ${onNode} in 50 tries`);
    c = await open();
  }
  try {
    return (await c.query<Record<string, string | null>>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** The value of one series (`name{labels}` as exposed) on /metrics; 0 when absent. */
export async function metricValue(metrics: string, series: string): Promise<number> {
  const text = await (await fetch(`http://${metrics}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
