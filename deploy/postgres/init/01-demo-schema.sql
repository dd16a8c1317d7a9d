-- The demo partitioned schema for docker-compose: the same tables and partitions as
-- src/localdb/demo-schema.ts creates for `npm start` (test/ops.test.ts compares the two on a real
-- PostgreSQL). The postgres image runs this once, on an empty data volume, in POSTGRES_DB.

CREATE TABLE IF NOT EXISTS events (
  id bigserial,
  region text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  payload text
) PARTITION BY RANGE (created_at);

-- One partition per month from last month to two months ahead, named and bounded in UTC like the
-- TypeScript version, so the demo works whenever the volume is first created.
DO $$
DECLARE
  month_start timestamp;
BEGIN
  FOR m IN -1..2 LOOP
    month_start := date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m);
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
      'events_' || to_char(month_start, 'YYYY_MM'),
      month_start AT TIME ZONE 'UTC',
      (month_start + interval '1 month') AT TIME ZONE 'UTC');
  END LOOP;
END
$$;

CREATE TABLE IF NOT EXISTS events_default PARTITION OF events DEFAULT;

CREATE TABLE IF NOT EXISTS orders (
  id bigserial,
  region text NOT NULL,
  amount numeric(12,2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS orders_eu PARTITION OF orders FOR VALUES IN ('eu');
CREATE TABLE IF NOT EXISTS orders_us PARTITION OF orders FOR VALUES IN ('us');
CREATE TABLE IF NOT EXISTS orders_apac PARTITION OF orders FOR VALUES IN ('apac');
CREATE TABLE IF NOT EXISTS orders_other PARTITION OF orders DEFAULT;
