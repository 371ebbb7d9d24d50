import type { Db, Trx } from '../db/connection.ts';
import type { LogSigner } from '../db/log.ts';
import type { FieldLimits } from '../core/text.ts';

/** What write use cases need besides their input: the database, the log key and the clock. */
export interface LedgerDeps {
  db: Db;
  signer: LogSigner;
  now: () => Date;
  maxClockSkewMs: number;
  /** Bounds of free-form fields; `DEFAULT_FIELD_LIMITS` when absent. */
  fieldLimits?: FieldLimits;
  /**
   * Run inside this open transaction instead of a new one (no retries): lets a caller such as an EPCIS document
   * capture make many writes all-or-nothing. The caller owns commit, rollback and retry, and integrates the pending
   * events after its commit (`awaitIntegration`).
   */
  trx?: Trx;
}
