/**
 * The `quietcut` schema in the managed database: versioned migrations, applied in order inside one
 * transaction under an advisory lock, so several nodes starting at once migrate exactly once.
 *
 * Add a migration by appending to MIGRATIONS; never edit one that has shipped.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'history, runs, requests, plans',
    sql: `
      CREATE TABLE quietcut.write_minutes (
        partition   text        NOT NULL,          -- schema-qualified leaf, e.g. public.events_2026_11
        minute      timestamptz NOT NULL,          -- start of the minute (UTC)
        node        text        NOT NULL,
        statements  bigint      NOT NULL DEFAULT 0,
        rows        bigint      NOT NULL DEFAULT 0,
        PRIMARY KEY (partition, minute, node)
      );
      CREATE TABLE quietcut.table_stat_minutes (
        partition   text        NOT NULL,
        minute      timestamptz NOT NULL,
        n_tup_ins   bigint      NOT NULL,
        n_tup_upd   bigint      NOT NULL,
        n_tup_del   bigint      NOT NULL,
        delta_rows  bigint      NOT NULL,          -- ins+upd+del since the previous sample
        PRIMARY KEY (partition, minute)
      );
      CREATE TABLE quietcut.runs (
        run_id      text        PRIMARY KEY,
        started_at  timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        status      text        NOT NULL DEFAULT 'running',  -- running | good | failed
        trigger     text        NOT NULL,                    -- manual | schedule | plan
        node        text        NOT NULL,
        dir         text        NOT NULL,
        detail      jsonb
      );
      CREATE TABLE quietcut.run_partitions (
        run_id      text        NOT NULL REFERENCES quietcut.runs ON DELETE CASCADE,
        partition   text        NOT NULL,
        grp         text        NOT NULL,
        status      text        NOT NULL,          -- good | failed | aborted
        reason      text,
        cut_at      timestamptz,
        window_start timestamptz,
        window_end  timestamptz,
        held        bigint      NOT NULL DEFAULT 0,
        rejected    bigint      NOT NULL DEFAULT 0,
        rows        bigint,
        bytes       bigint,
        dump_ms     double precision,
        file        text,
        PRIMARY KEY (run_id, partition)
      );
      CREATE TABLE quietcut.backup_requests (
        id          bigserial   PRIMARY KEY,
        created_at  timestamptz NOT NULL DEFAULT now(),
        partitions  text[]      NOT NULL,
        mode        text,
        release     text,
        claimed_by  text,
        claimed_at  timestamptz,
        run_id      text,
        done_at     timestamptz,
        result      jsonb
      );
      CREATE TABLE quietcut.plans (
        plan_id     bigserial   PRIMARY KEY,
        created_at  timestamptz NOT NULL DEFAULT now(),
        interval_start timestamptz NOT NULL,
        interval_end   timestamptz NOT NULL,
        node        text        NOT NULL,
        plan        jsonb       NOT NULL
      );
      CREATE TABLE quietcut.plan_windows (
        plan_id     bigint      NOT NULL REFERENCES quietcut.plans ON DELETE CASCADE,
        partition   text        NOT NULL,
        grp         text        NOT NULL,
        window_start timestamptz NOT NULL,
        cut_at      timestamptz NOT NULL,
        window_end  timestamptz NOT NULL,
        predicted_held double precision,
        status      text        NOT NULL DEFAULT 'planned',  -- planned | armed | done | failed | infeasible | skipped
        reason      text,
        PRIMARY KEY (plan_id, partition)
      );
      CREATE TABLE quietcut.nodes (
        node        text        PRIMARY KEY,
        seen_at     timestamptz NOT NULL DEFAULT now(),
        clock_offset_ms double precision,
        admin_url   text
      );
    `,
  },
  {
    version: 2,
    name: 'backup: artifact detail per run partition',
    sql: `
      ALTER TABLE quietcut.run_partitions
        ADD COLUMN snapshot_id        text,
        ADD COLUMN wal_lsn            pg_lsn,
        ADD COLUMN checksum           text,             -- content checksum computed in the snapshot
        ADD COLUMN checksum_algorithm text,
        ADD COLUMN sha256             text,             -- of the artifact file
        ADD COLUMN pg_dump_version    text,
        ADD COLUMN checksum_ms        double precision,
        ADD COLUMN window_ms          double precision,
        ADD COLUMN pruned_at          timestamptz;      -- artifact removed by retention
    `,
  },
  {
    version: 3,
    name: 'coordinator: plan windows for every partition, with their outcome',
    sql: `
      -- infeasible and skipped partitions have a row (with a reason) but no window
      ALTER TABLE quietcut.plan_windows
        ALTER COLUMN window_start DROP NOT NULL,
        ALTER COLUMN cut_at DROP NOT NULL,
        ALTER COLUMN window_end DROP NOT NULL,
        ADD COLUMN dump_start          timestamptz,
        ADD COLUMN dump_end            timestamptz,
        ADD COLUMN predicted_queue_peak double precision,
        ADD COLUMN run_id              text,              -- the run that carried out the window
        ADD COLUMN actual_writes       bigint,            -- held + rejected in the window as it ran
        ADD COLUMN updated_at          timestamptz NOT NULL DEFAULT now();
      CREATE INDEX plans_interval ON quietcut.plans (interval_start, plan_id);
    `,
  },
  {
    version: 4,
    name: 'measured snapshot pin times per server, for the planner',
    sql: `
      CREATE TABLE quietcut.pins (
        run_id   text             NOT NULL,
        grp      text             NOT NULL,
        server   text             NOT NULL,     -- 'local' for the fronted server, else the postgres_fdw server
        pin_ms   double precision NOT NULL,     -- from drained to this server's snapshot exported
        at       timestamptz      NOT NULL DEFAULT now()
      );
      CREATE INDEX pins_server_at ON quietcut.pins (server, at DESC);
    `,
  },
  {
    version: 5,
    name: 'measured drain time of each window, for the planner',
    sql: `ALTER TABLE quietcut.pins ADD COLUMN drain_ms double precision;`,
  },
  {
    version: 6,
    name: 'liveness: heartbeats of running runs and claimed requests, so a dead node\'s work is finished by others',
    sql: `
      ALTER TABLE quietcut.runs ADD COLUMN heartbeat_at timestamptz;
      ALTER TABLE quietcut.backup_requests ADD COLUMN heartbeat_at timestamptz;
    `,
  },
  {
    version: 7,
    name: 'membership: node leases and clock offsets; windows every live node enforces',
    sql: `
      ALTER TABLE quietcut.nodes
        ADD COLUMN host                 text,
        ADD COLUMN pid                  int,
        ADD COLUMN version              text,
        ADD COLUMN role                 text NOT NULL DEFAULT 'node',   -- node | worker
        ADD COLUMN started_at           timestamptz,
        ADD COLUMN lease_expires_at     timestamptz,                    -- live while this is ahead of the server's clock
        ADD COLUMN clock_uncertainty_ms double precision,               -- half the round trip of the offset sample
        ADD COLUMN min_client_rtt_ms    double precision;               -- smallest ack → next request seen lately
      -- One row per window every live node enforces; the runner pins and dumps, the others hold.
      CREATE TABLE quietcut.windows (
        window_key  text             PRIMARY KEY,   -- run:<run>:<group>
        run_id      text             NOT NULL,
        grp         text             NOT NULL,
        partitions  text[]           NOT NULL,
        runner      text             NOT NULL,
        mode        text             NOT NULL,
        release     text             NOT NULL,
        budget_ms   double precision NOT NULL,
        state       text             NOT NULL DEFAULT 'open',  -- open | cut | released | aborted
        reason      text,
        created_at  timestamptz      NOT NULL DEFAULT now(),
        cut_at      timestamptz,
        ended_at    timestamptz
      );
      CREATE INDEX windows_open ON quietcut.windows (created_at) WHERE state IN ('open', 'cut');
      -- What each node reports of a window: holding, drained, released, aborted (last one wins).
      -- No foreign key: a node may report before the runner's row is visible to it.
      CREATE TABLE quietcut.window_acks (
        window_key  text        NOT NULL,
        node        text        NOT NULL,
        state       text        NOT NULL,
        at          timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (window_key, node)
      );
    `,
  },
];
