import type { Db } from '../db/connection.ts';
import type { LogSigner } from '../db/log.ts';

/** What write use cases need besides their input: the database, the log key and the clock. */
export interface LedgerDeps {
  db: Db;
  signer: LogSigner;
  now: () => Date;
  maxClockSkewMs: number;
}
