import { LocalCluster, type LocalClusterOptions } from '../../src/localdb/cluster.js';

/** One throwaway PostgreSQL cluster for a test file: `const pg = await startTestCluster()` in beforeAll. */
export async function startTestCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  return LocalCluster.start({ demo: true, ...opts });
}
