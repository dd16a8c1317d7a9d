/** BEGIN / COMMIT / SAVEPOINT / PREPARE TRANSACTION … as TxControl. */
import type { TransactionStmt } from 'libpg-query';
import type { TxControl, TxOp } from './types.js';

const OPS: Record<string, TxOp> = {
  TRANS_STMT_BEGIN: 'begin',
  TRANS_STMT_START: 'begin',
  TRANS_STMT_COMMIT: 'commit', // also END
  TRANS_STMT_ROLLBACK: 'rollback', // also ABORT
  TRANS_STMT_SAVEPOINT: 'savepoint',
  TRANS_STMT_RELEASE: 'release',
  TRANS_STMT_ROLLBACK_TO: 'rollback_to',
  TRANS_STMT_PREPARE: 'prepare',
  TRANS_STMT_COMMIT_PREPARED: 'commit_prepared',
  TRANS_STMT_ROLLBACK_PREPARED: 'rollback_prepared',
};

export function txControlOf(s: TransactionStmt): TxControl | null {
  const op = s.kind === undefined ? undefined : OPS[s.kind];
  if (op === undefined) return null;
  const tx: TxControl = { op };
  const name = s.savepoint_name ?? s.gid;
  if (name !== undefined) tx.name = name;
  if (s.chain === true) tx.chain = true;
  return tx;
}
