import type { LedgerDeps } from '../../services/deps.ts';
import type { Context } from '../context.ts';

/** The write dependencies of ledger use cases, taken from the request context. */
export const ledgerDeps = (ctx: Context): LedgerDeps => ({
  db: ctx.db,
  signer: ctx.signer,
  now: ctx.now,
  maxClockSkewMs: ctx.config.maxClockSkewMs,
  fieldLimits: ctx.config.fieldLimits,
});
