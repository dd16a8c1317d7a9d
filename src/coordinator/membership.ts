/**
 * Membership: every node keeps a row in quietcut.nodes with a lease it renews on each heartbeat,
 * together with its measured clock offset to the server and its smallest recent client round trip.
 * A node whose lease has expired (by the server's clock) is not live: windows neither wait for it
 * nor count it. A node that cannot renew its own lease stops trusting itself once the lease it last
 * got may have run out (see `trusted`).
 */
import type pg from 'pg';
import type { Metrics } from '../metrics/registry.js';
import { silentLogger, type Logger } from '../util/log.js';
import { measureOffset, type ClockOffset, type NodeClock } from './clock.js';

export interface NodeInfo {
  host: string;
  pid: number;
  version: string;
  role: 'node' | 'worker';
}

export interface MembershipOptions {
  pool: pg.Pool;
  node: string;
  info: NodeInfo;
  clock: NodeClock;
  /** How long a renewal keeps the node live. Default 10 s. */
  leaseMs?: number;
  /** How often the lease is renewed (and the offset measured). Default leaseMs / 4. */
  heartbeatMs?: number;
  /** Smallest client round trip seen since the last call (ms), or null when none was seen. */
  takeMinClientRttMs?: () => number | null;
  metrics?: Metrics;
  log?: Logger;
}

/** A live node as the others see it. */
export interface LiveNode {
  node: string;
  offsetMs: number | null;
  uncertaintyMs: number | null;
  minClientRttMs: number | null;
}

export class Membership {
  readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private trustTimer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private stopped = false;
  /** Local (node clock) instant until which the last renewal surely keeps this node live. */
  private trustedUntilMs = 0;
  /** Local send time of the last renewal that succeeded: the server's lease runs from after it. */
  private renewedFromMs = 0;
  private lastRttMs: number | null = null;
  offset: ClockOffset | null = null;
  /** Live nodes as of the last heartbeat. */
  live: LiveNode[] = [];
  private readonly listeners = new Set<(trusted: boolean) => void>();
  private wasTrusted = false;

  constructor(private readonly opts: MembershipOptions) {
    this.leaseMs = opts.leaseMs ?? 10_000;
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(50, Math.floor(this.leaseMs / 4));
    this.log = opts.log ?? silentLogger;
  }

  /** Register (first heartbeat) and keep renewing. Throws when the first renewal fails. */
  async start(): Promise<void> {
    await this.beat(true);
    // A tick while a beat is still out (a slow server) is skipped, not queued.
    this.timer = setInterval(() => void (this.beating ?? this.beatNow()), this.heartbeatMs);
    this.timer.unref();
  }

  /** Give the lease up, so that windows stop waiting for this node at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.trustTimer) clearTimeout(this.trustTimer);
    await this.beating;
    await this.opts.pool
      .query('UPDATE quietcut.nodes SET lease_expires_at = clock_timestamp() WHERE node = $1', [this.opts.node])
      .catch((err: unknown) => this.log.warn({ err }, 'could not give up the node lease'));
  }

  /**
   * Whether this node may still count itself live. The server starts the lease after the renewal
   * was sent, so the local send time plus the lease is a bound the server's expiry cannot precede;
   * the node uses half of it.
   */
  get trusted(): boolean {
    return this.opts.clock.now() < this.trustedUntilMs;
  }

  /**
   * How long until the server may let the lease go (the local send time of the last renewal plus
   * the lease; 0 once past): before then any node that starts still sees this one live and waits
   * for it.
   */
  leaseRunsOutInMs(): number {
    return Math.max(0, this.renewedFromMs + this.leaseMs - this.opts.clock.now());
  }

  /** Called when trust is lost or regained (a renewal failed past the lease, or succeeded again). */
  onTrustChange(f: (trusted: boolean) => void): void {
    this.listeners.add(f);
  }

  /**
   * One heartbeat that starts now: after the one in flight, if any, so that what it reports (the
   * client round trips seen so far, a fresh lease) is not an older beat's.
   */
  async heartbeat(): Promise<void> {
    while (this.beating) await this.beating;
    return this.beatNow();
  }

  private beatNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const b = this.beat(false).finally(() => {
      if (this.beating === b) this.beating = null;
    });
    this.beating = b;
    return b;
  }

  private async beat(first: boolean): Promise<void> {
    const rtt = this.opts.takeMinClientRttMs?.() ?? null;
    if (rtt !== null) this.lastRttMs = rtt;
    try {
      const c = await this.opts.pool.connect();
      try {
        const sentMs = this.opts.clock.now();
        const off = await measureOffset(c, this.opts.clock);
        if (off) this.offset = off;
        const { info, node } = this.opts;
        await c.query(
          `INSERT INTO quietcut.nodes AS n (node, seen_at, host, pid, version, role, started_at, lease_expires_at, clock_offset_ms, clock_uncertainty_ms, min_client_rtt_ms)
           VALUES ($1, now(), $2, $3, $4, $5, now(), clock_timestamp() + $6 * interval '1 millisecond', $7, $8, $9)
           ON CONFLICT (node) DO UPDATE SET seen_at = now(), host = $2, pid = $3, version = $4, role = $5,
             started_at = CASE WHEN $10 THEN now() ELSE n.started_at END,
             lease_expires_at = EXCLUDED.lease_expires_at, clock_offset_ms = $7, clock_uncertainty_ms = $8, min_client_rtt_ms = $9`,
          [node, info.host, info.pid, info.version, info.role, this.leaseMs, off?.offsetMs ?? null, off?.uncertaintyMs ?? null, this.lastRttMs, first],
        );
        // Half the lease: the node must have stopped trusting itself before the server's expiry even
        // when its timers run late on a loaded machine.
        this.renewedFromMs = sentMs;
        this.trustedUntilMs = sentMs + this.leaseMs / 2;
        this.armTrustTimer();
        this.live = await liveNodes(c);
        this.opts.metrics?.liveNodes.set(this.live.length);
      } finally {
        c.release();
      }
      const m = this.opts.metrics;
      if (m && this.offset) {
        m.nodeClockOffset.set({ node: this.opts.node }, this.offset.offsetMs / 1000);
        m.nodeClockUncertainty.set({ node: this.opts.node }, this.offset.uncertaintyMs / 1000);
      }
      if (m && this.lastRttMs !== null) m.nodeMinClientRtt.set(this.lastRttMs / 1000);
    } catch (err) {
      if (first) throw err;
      this.log.warn({ err: (err as Error).message }, 'node lease renewal failed');
    }
    this.noteTrust();
  }

  /** A lost lease is noticed when it runs out, not at the next heartbeat: a renewal may hang. */
  private armTrustTimer(): void {
    if (this.trustTimer) clearTimeout(this.trustTimer);
    this.trustTimer = setTimeout(() => this.noteTrust(), Math.max(0, this.trustedUntilMs - this.opts.clock.now()) + 1);
    this.trustTimer.unref();
  }

  private noteTrust(): void {
    const t = this.trusted;
    if (t === this.wasTrusted) return;
    this.wasTrusted = t;
    if (!t) this.log.warn('node lease may have expired: holding writes of armed windows until back in step');
    for (const f of this.listeners) f(t);
  }
}

/** Nodes whose lease is ahead of the server's clock. */
export async function liveNodes(q: Pick<pg.ClientBase, 'query'>): Promise<LiveNode[]> {
  const { rows } = await q.query<{ node: string; o: number | null; u: number | null; r: number | null }>(
    `SELECT node, clock_offset_ms AS o, clock_uncertainty_ms AS u, min_client_rtt_ms AS r
       FROM quietcut.nodes WHERE lease_expires_at > clock_timestamp() ORDER BY node`,
  );
  return rows.map((r) => ({ node: r.node, offsetMs: r.o, uncertaintyMs: r.u, minClientRttMs: r.r }));
}
