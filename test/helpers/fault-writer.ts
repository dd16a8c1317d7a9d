import pg from 'pg';

let next = 1_000_000 + Math.floor(Math.random() * 1000) * 1_000_000;

/**
 * A client that keeps writing `(id, k)` rows through quietcut whatever breaks: on an error it
 * records it, reconnects and goes on. `acked` holds every id the server acknowledged: each must be
 * in the table exactly once at the end, whatever faults came in between.
 */
export class FaultWriter {
  readonly acked = new Set<number>();
  errors = 0;
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: () => string,
    private readonly table: string,
    private readonly k: () => number,
  ) {}

  start(): this {
    this.done = this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const c = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 5000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        while (!this.stopped) {
          const id = next++;
          await c.query(`INSERT INTO ${this.table} (id, k) VALUES ($1, $2)`, [id, this.k()]);
          this.acked.add(id);
        }
      } catch {
        this.errors++;
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        await c.end().catch(() => undefined);
      }
    }
  }
}

/** ids acknowledged but missing, and ids present more than once. */
export async function lostAndDuplicated(query: (sql: string, params: unknown[]) => Promise<{ rows: Array<{ id: string; n: number }> }>, table: string, acked: ReadonlySet<number>): Promise<{ lost: number[]; duplicated: number[] }> {
  const { rows } = await query(`SELECT id::text AS id, count(*)::int AS n FROM ${table} WHERE id = ANY($1::bigint[]) GROUP BY id`, [[...acked]]);
  const seen = new Map(rows.map((r) => [Number(r.id), r.n]));
  return { lost: [...acked].filter((id) => !seen.has(id)), duplicated: [...seen].filter(([, n]) => n > 1).map(([id]) => id) };
}
