/** backup/: pg_dump in a pinned snapshot, manifests, run records, verify, retention. Knows nothing of the proxy. */
export { capturePartition, manifestEntry, type CaptureOutcome, type WindowFacts } from './capture.js';
export { checksumInSnapshot, checksumInSnapshotOn, checksumTable, CHECKSUM_ALGORITHM, type TableChecksum } from './checksum.js';
export { dumpPartition, partitionAncestors, DumpError, type DumpPartitionOptions, type DumpResult } from './pg-dump.js';
export {
  newManifest,
  readManifest,
  writeManifest,
  upsertPartition,
  finishManifest,
  overallStatus,
  RunManifest,
  ManifestError,
  MANIFEST_NAME,
  type Manifest,
  type ManifestPartition,
  type ManifestPartitionInput,
  type ManifestCut,
} from './manifest.js';
export { artifactName, newRunId, isRunId, runIdTime, parseTableName, displayName, quoteTable, type TableName } from './names.js';
export { targetFromUrl, childEnv, clientConfig, describeTarget, withDatabase, type PgTarget } from './pg-target.js';
export { applyRetention, planRetention, type RetentionPlan, type RetentionRun } from './retention.js';
export { prepareRunsStore, recordRunStarted, recordRunPartition, recordRunFinished, recordPruned, listRunPartitions, type RunStatus } from './runs-store.js';
export { listRuns, findRun, RunNotFound, type RunRow, type RunPartitionSummary } from './runs-query.js';
export { reclaimRuns, abandonRunDir, type ReclaimOptions } from './reclaim.js';
export { verifyRun, type VerifyResult, type PartitionVerdict } from './verify.js';
