/**
 * The demo's load generator: a few client sessions per demo stream, writing through the proxy at
 * the stream's rate for the current simulated hour (Poisson arrivals). Several sessions per
 * partition because a window holds one request per waiting session: one session would make every
 * window hold a single write.
 */
import pg from 'pg';
import type { Logger } from '../../util/log.js';
import type { DemoStream } from './shapes.js';
import type { SimClock } from './sim-clock.js';

export interface DemoLoadOptions {
  connectionString: string;
  streams: readonly DemoStream[];
  clock: SimClock;
  peakWritesPerSec: number;
  sessionsPerStream?: number;
  log: Logger;
}

/** A backlog older than this (a session held in a window) is dropped, not replayed as a burst. */
const MAX_BACKLOG_MS = 1000;
/** Longest sleep between rate checks, so a quiet session notices its hour getting busy. */
const MAX_SLEEP_MS = 500;

export class DemoLoad {
  private stopped = false;
  private readonly sessions: Array<Promise<void>> = [];
  private readonly wakers = new Set<() => void>();
  private readonly clients = new Set<pg.Client>();
  errors = 0;

  constructor(private readonly opts: DemoLoadOptions) {}

  start(): void {
    const n = this.opts.sessionsPerStream ?? 3;
    for (const s of this.opts.streams) for (let i = 0; i < n; i++) this.sessions.push(this.session(s, n));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        this.wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  private async session(stream: DemoStream, sessions: number): Promise<void> {
    const c = new pg.Client({ connectionString: this.opts.connectionString, application_name: 'quietcut-demo-load' });
    c.on('error', () => undefined);
    this.clients.add(c);
    try {
      await c.connect();
      let seq = 0;
      let next = Date.now();
      while (!this.stopped) {
        const now = Date.now();
        const rate = (this.opts.peakWritesPerSec * stream.shape(this.opts.clock.hourOf(this.opts.clock.toSim(now)))) / sessions;
        if (next < now - MAX_BACKLOG_MS) next = now;
        if (next > now) {
          await this.sleep(Math.min(next - now, MAX_SLEEP_MS));
          continue;
        }
        const st = stream.statement(this.opts.clock.toSim(now), seq++);
        try {
          await c.query(st.text, st.values);
        } catch (err) {
          if (this.stopped) break;
          this.errors++;
          this.opts.log.warn({ demo: { partition: stream.partition } }, `demo write to ${stream.partition} failed: ${err instanceof Error ? err.message : String(err)}`);
          await this.sleep(1000);
        }
        next += rate > 0 ? (-Math.log(1 - Math.random()) / rate) * 1000 : MAX_SLEEP_MS;
      }
    } catch (err) {
      if (!this.stopped) this.opts.log.warn(`demo load session ended: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.clients.delete(c);
      await c.end().catch(() => undefined);
    }
  }

  /** Stop writing; a session still waiting in a window gets `graceMs` before its connection is closed. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    for (const w of [...this.wakers]) w();
    const all = Promise.all(this.sessions);
    const timer = new Promise<'late'>((r) => setTimeout(() => r('late'), graceMs).unref());
    if ((await Promise.race([all.then(() => 'done' as const), timer])) === 'late') {
      // Ending the connection fails the waiting query, which ends its session loop.
      for (const c of this.clients) c.end().catch(() => undefined);
      await all;
    }
  }
}
