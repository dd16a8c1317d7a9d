/** Asking a `quietcut start` process (spawned by a test) through its console and its metrics endpoint. */
import pg from 'pg';

/** A console statement's rows, every value as the text the console sent. */
export async function consoleQuery(connectionString: string, sql: string): Promise<Array<Record<string, string | null>>> {
  const c = new pg.Client({ connectionString: connectionString.replace(/\/[^/]*$/, '/quietcut'), types: { getTypeParser: () => (v: string) => v } });
  await c.connect();
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
