import { LocalCluster } from './cluster.js';
import { silentLogger, type Logger } from '../util/log.js';

/**
 * `quietcut start --demo-shards N`: N more private PostgreSQL servers as shards, and a demo table
 * `readings` on the fronted server whose partitions live on them through postgres_fdw (plus one
 * local partition), so a newcomer sees a cut across servers: the case holding writes exists for.
 */
export interface DemoShards {
  shards: LocalCluster[];
  /** Leaves of `public.readings`, local first: one consistency group across all servers. */
  leaves: string[];
  stop(): Promise<void>;
}

export const DEMO_SHARD_TABLE = 'public.readings';

export function demoShardSql(): string {
  return `CREATE TABLE IF NOT EXISTS readings_remote (
    shard int NOT NULL, id bigint NOT NULL, at timestamptz NOT NULL DEFAULT now(), value double precision, PRIMARY KEY (shard, id));`;
}

export function demoFrontSql(ports: readonly number[]): string {
  const lines = [
    'CREATE EXTENSION IF NOT EXISTS postgres_fdw;',
    // ids come from the fronted server, so rows stay unique across shards
    'CREATE SEQUENCE IF NOT EXISTS readings_id;',
    `CREATE TABLE IF NOT EXISTS readings (shard int NOT NULL, id bigint NOT NULL DEFAULT nextval('readings_id'), at timestamptz NOT NULL DEFAULT now(), value double precision) PARTITION BY LIST (shard);`,
    'CREATE TABLE IF NOT EXISTS readings_local PARTITION OF readings FOR VALUES IN (0);',
  ];
  ports.forEach((port, i) => {
    const n = i + 1;
    lines.push(
      `CREATE SERVER IF NOT EXISTS "shard${n}" FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '${port}', dbname 'postgres');`,
      `CREATE USER MAPPING IF NOT EXISTS FOR postgres SERVER "shard${n}" OPTIONS (user 'postgres');`,
      `CREATE FOREIGN TABLE IF NOT EXISTS "readings_shard${n}" PARTITION OF readings FOR VALUES IN (${n}) SERVER "shard${n}" OPTIONS (table_name 'readings_remote');`,
    );
  });
  return lines.join('\n');
}

export async function startDemoShards(front: LocalCluster, count: number, database: string, log: Logger = silentLogger): Promise<DemoShards> {
  if (!Number.isInteger(count) || count < 1 || count > 8) throw new Error(`--demo-shards takes 1 to 8, got ${count}`);
  const started = await Promise.allSettled(Array.from({ length: count }, () => LocalCluster.start({ log })));
  const shards = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(shards.map((s) => s.stop()));
  };
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  try {
    for (const s of shards) await s.query(demoShardSql());
    await front.query(demoFrontSql(shards.map((s) => s.port)), [], database);
  } catch (err) {
    await stop();
    throw err;
  }
  log.info({ shards: shards.map((s) => s.port) }, 'demo shards started: public.readings has a partition on each');
  return { shards, leaves: ['public.readings_local', ...shards.map((_, i) => `public.readings_shard${i + 1}`)], stop };
}
