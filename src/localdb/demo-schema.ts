/**
 * The demo schema `npm start` creates in its private PostgreSQL: two partitioned tables with
 * different strategies so every part of quietcut has something to show.
 */
export function demoSchemaSql(now = new Date()): string {
  const months: string[] = [];
  for (let i = -1; i <= 2; i++) {
    const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
    const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i + 1, 1));
    const name = `events_${start.getUTCFullYear()}_${String(start.getUTCMonth() + 1).padStart(2, '0')}`;
    months.push(
      `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF events FOR VALUES FROM ('${start.toISOString()}') TO ('${end.toISOString()}');`,
    );
  }
  return [
    `CREATE TABLE IF NOT EXISTS events (
       id bigserial,
       region text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       payload text
     ) PARTITION BY RANGE (created_at);`,
    ...months,
    `CREATE TABLE IF NOT EXISTS events_default PARTITION OF events DEFAULT;`,
    `CREATE TABLE IF NOT EXISTS orders (
       id bigserial,
       region text NOT NULL,
       amount numeric(12,2) NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now()
     ) PARTITION BY LIST (region);`,
    `CREATE TABLE IF NOT EXISTS orders_eu PARTITION OF orders FOR VALUES IN ('eu');`,
    `CREATE TABLE IF NOT EXISTS orders_us PARTITION OF orders FOR VALUES IN ('us');`,
    `CREATE TABLE IF NOT EXISTS orders_apac PARTITION OF orders FOR VALUES IN ('apac');`,
    `CREATE TABLE IF NOT EXISTS orders_other PARTITION OF orders DEFAULT;`,
  ].join('\n');
}
