/**
 * Window events between nodes: NOTIFY on one channel, `<event>:<window key>`, heard on one LISTEN
 * connection per node that reconnects when lost. Notifications are only a prompt: whoever waits on
 * one also polls the tables, so a missed notification (connection lost, node cut off) only delays.
 */
import pg from 'pg';
import { clientConfig, type PgTarget } from '../backup/index.js';
import { silentLogger, type Logger } from '../util/log.js';

export const WINDOW_CHANNEL = 'quietcut_windows';

export type WindowEvent = 'open' | 'ack' | 'end';

export class WindowBus {
  private client: pg.Client | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<(event: WindowEvent, key: string) => void>();
  private readonly log: Logger;

  constructor(
    private readonly target: PgTarget,
    log?: Logger,
  ) {
    this.log = log ?? silentLogger;
  }

  /** Listen; throws if the first connection fails (the node cannot start without its database). */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
  }

  on(f: (event: WindowEvent, key: string) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private async connect(): Promise<void> {
    const c = new pg.Client({ ...clientConfig(this.target, 'quietcut windows'), connectionTimeoutMillis: 5000 });
    c.on('error', (err) => {
      this.log.warn({ err: err.message }, 'window listener lost; polling continues while it reconnects');
      this.reconnectSoon(c);
    });
    c.on('end', () => this.reconnectSoon(c));
    c.on('notification', (n) => {
      const p = n.payload ?? '';
      const i = p.indexOf(':');
      if (i < 0) return;
      const event = p.slice(0, i) as WindowEvent;
      const key = p.slice(i + 1);
      for (const f of this.listeners) f(event, key);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${WINDOW_CHANNEL}`);
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    this.client = c;
  }

  private reconnectSoon(lost: pg.Client): void {
    if (this.stopped || this.client !== lost || this.retry) return;
    this.client = null;
    void lost.end().catch(() => undefined);
    const attempt = (): void => {
      this.retry = null;
      if (this.stopped) return;
      this.connect().catch(() => {
        if (!this.stopped) this.retry = setTimeout(attempt, 500).unref();
      });
    };
    this.retry = setTimeout(attempt, 100).unref();
  }
}

/** Send an event to every node (inside the caller's transaction, if any: delivered at commit). */
export async function notifyWindow(q: Pick<pg.ClientBase, 'query'>, event: WindowEvent, key: string): Promise<void> {
  await q.query('SELECT pg_notify($1, $2)', [WINDOW_CHANNEL, `${event}:${key}`]);
}
