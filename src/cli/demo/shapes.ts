/**
 * What the demo load writes: each demo partition with its own daily shape, so the forecast has
 * something to learn and the planner a different quiet hour for each. Pure: rates and statements only.
 */

export interface DemoStream {
  /** schema.partition the statements land in (the proxy resolves it from the key value). */
  partition: string;
  /** Fraction of demo.peakWritesPerSec at this simulated hour (0 ≤ h < 24). */
  shape: (hour: number) => number;
  /** One INSERT through the partitioned parent, with the key as a parameter. */
  statement: (simMs: number, seq: number) => { text: string; values: unknown[] };
}

/** A bump centred on `peakHour` (circular over the day) on top of a base level. */
export function bump(hour: number, peakHour: number, widthHours: number, base: number): number {
  const d = Math.min(Math.abs(hour - peakHour), 24 - Math.abs(hour - peakHour));
  return base + (1 - base) * Math.exp(-(d * d) / (2 * widthHours * widthHours));
}

function order(region: string): DemoStream['statement'] {
  return (_sim, seq) => ({ text: 'insert into orders (region, amount) values ($1, $2)', values: [region, ((seq * 37) % 10_000) / 100 + 1] });
}

/** events is range-partitioned by month: the current month gets the stream, last month late corrections. */
function event(monthOffset: number, region: string): DemoStream['statement'] {
  return (_sim, seq) => {
    const now = new Date();
    const at = monthOffset === 0 ? now : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + monthOffset, 15, 12));
    return { text: 'insert into events (region, created_at, payload) values ($1, $2, $3)', values: [region, at.toISOString(), `demo event ${seq}`] };
  };
}

function monthPartition(offset: number, now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return `public.events_${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

export function demoStreams(now = new Date()): DemoStream[] {
  return [
    // Business hours in three regions: each region's orders are quiet while it sleeps.
    { partition: 'public.orders_eu', shape: (h) => bump(h, 12, 3, 0.08), statement: order('eu') },
    { partition: 'public.orders_us', shape: (h) => bump(h, 19, 3, 0.06), statement: order('us') },
    { partition: 'public.orders_apac', shape: (h) => bump(h, 4, 3, 0.1), statement: order('apac') },
    { partition: 'public.orders_other', shape: () => 0.05, statement: order('latam') },
    // The event stream: busy all day with a morning and an evening peak, quietest before dawn.
    { partition: monthPartition(0, now), shape: (h) => Math.max(bump(h, 9, 2.5, 0.12), bump(h, 20, 2, 0.12)), statement: event(0, 'eu') },
    // Late corrections to last month, a nightly batch.
    { partition: monthPartition(-1, now), shape: (h) => bump(h, 2, 1, 0.01) * 0.3, statement: event(-1, 'us') },
  ];
}
