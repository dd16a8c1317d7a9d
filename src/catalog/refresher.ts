/**
 * Keeps a current Catalog: reloads on an interval and soon after DDL, swapping the new catalog in
 * whole so a resolution never sees half of one load. Stale marks made while a load runs are carried
 * over to the catalog it produces, because that load may have read the catalogs before the DDL.
 */
import type { TableRef } from '../sql/types.js';
import type { Catalog } from './catalog.js';

export interface CatalogRefresherOptions {
  /** Produces a fresh catalog (typically: take a connection, loadCatalog, release it). */
  load: () => Promise<Catalog>;
  intervalMs: number;
  /**
   * Quiet time of refreshSoon(): each call within it starts it again, so a burst of DDL costs one
   * reload after the burst (default 250 ms)…
   */
  soonMs?: number;
  /** …but never later than this after the first call of the burst (default 2000 ms). */
  maxDelayMs?: number;
  onError?: (err: unknown) => void;
  onRefresh?: (catalog: Catalog) => void;
}

interface StaleMark {
  seq: number;
  ref: TableRef | string;
  searchPath: string[] | undefined;
  user: string;
}

export class CatalogRefresher {
  private catalog: Catalog | undefined;
  private timer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private running: Promise<Catalog> | undefined;
  private again = false;
  private seq = 0;
  private marks: StaleMark[] = [];
  private stopped = false;

  constructor(private readonly opts: CatalogRefresherOptions) {}

  /** Loads the first catalog and starts the interval. */
  async start(): Promise<Catalog> {
    const c = await this.refreshNow();
    this.timer = setInterval(() => this.refreshSoon(0), this.opts.intervalMs);
    this.timer.unref();
    return c;
  }

  /** The current catalog; throws before the first load completed. */
  get current(): Catalog {
    if (!this.catalog) throw new Error('catalog not loaded yet');
    return this.catalog;
  }

  /** Marks a table stale in the current catalog and in the next one to be swapped in; schedules a reload. */
  markStale(ref: TableRef | string, searchPath?: string[], user = ''): void {
    this.marks.push({ seq: ++this.seq, ref, searchPath, user });
    this.catalog?.markStale(ref, searchPath, user);
    this.refreshSoon();
  }

  /** When the current burst's first refreshSoon() came (ms, Date.now), or 0 when none is pending. */
  private burstStartMs = 0;

  /**
   * Reload after a quiet time (debounced): DDL through the proxy calls this once per statement,
   * and each reload is a short read transaction in the user's database.
   */
  refreshSoon(delayMs = this.opts.soonMs ?? 250): void {
    if (this.stopped) return;
    const now = Date.now();
    if (this.burstStartMs === 0) this.burstStartMs = now;
    const latest = this.burstStartMs + (this.opts.maxDelayMs ?? 2000);
    const due = Math.min(now + delayMs, latest);
    clearTimeout(this.soonTimer);
    this.soonTimer = setTimeout(
      () => {
        this.soonTimer = undefined;
        this.burstStartMs = 0;
        this.refreshNow().catch((err: unknown) => this.opts.onError?.(err));
      },
      Math.max(0, due - now),
    );
    this.soonTimer.unref();
  }

  /** Reloads now; a call during a running load queues exactly one more load after it. */
  refreshNow(): Promise<Catalog> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const startSeq = this.seq;
    this.running = this.opts
      .load()
      .then((next) => {
        // Marks made after this load began may describe DDL it did not see.
        this.marks = this.marks.filter((m) => m.seq > startSeq);
        for (const m of this.marks) next.markStale(m.ref, m.searchPath, m.user);
        this.catalog = next;
        this.opts.onRefresh?.(next);
        return next;
      })
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.refreshNow().catch((err: unknown) => this.opts.onError?.(err));
        }
      });
    return this.running;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soonTimer);
  }
}
