import type { Db } from '../db/connection.ts';
import type { LogSigner } from '../db/log.ts';
import type { FieldLimits } from '../core/text.ts';

/**
 * What write use cases need besides their input: the database, the log key and the clock. A write composed of several
 * (EPCIS capture, packing) passes its open transaction explicitly to the `…In(trx, …)` form of each use case.
 */
export interface LedgerDeps {
  db: Db;
  signer: LogSigner;
  now: () => Date;
  maxClockSkewMs: number;
  /** Bounds of free-form fields; `DEFAULT_FIELD_LIMITS` when absent. */
  fieldLimits?: FieldLimits;
}
