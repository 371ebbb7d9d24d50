import { ok } from '../core/result.ts';
import type { Db } from '../db/connection.ts';
import { findGrantsByIds, insertRevocation } from '../db/grants.ts';
import { decideRevoke } from '../core/rights.ts';
import type { ActorRow, GrantRow } from '../db/types.ts';
import { actorFacts } from './actor-facts.ts';
import { ledgerWrite } from './ledger-write.ts';
import { type FailureOf, failureSpec } from './results.ts';

/** What revokeRights may fail with (its GraphQL union is built from this). */
export const REVOKE_RIGHTS_FAILURES = failureSpec(['NotFoundError', 'PermissionDeniedError', 'ConflictError', 'ValidationError'], ['NOT_GRANTOR']);
export type RevokeRightsResult = { kind: 'ok'; grant: GrantRow } | FailureOf<typeof REVOKE_RIGHTS_FAILURES>;

/** The grantor (or the operator) revokes a grant; it stops working at once. Revoking twice is refused. */
export async function revokeRights(db: Db, caller: ActorRow, grantId: string, now: Date, opts: { idempotencyKey?: string | null } = {}): Promise<RevokeRightsResult> {
  return ledgerWrite({ db, now: () => now }, {
    operation: 'revokeRights',
    caller,
    request: { grantId },
    idempotencyKey: opts.idempotencyKey,
    check: () => ok(grantId),
    write: async (trx, id): Promise<RevokeRightsResult> => {
      const [grant] = await findGrantsByIds(trx, [id]);
      const allowed = decideRevoke(actorFacts(caller), grant && { grantorId: grant.grantor_id, granteeId: grant.grantee_id, revokedAt: grant.revoked_at, row: grant });
      if (!allowed.ok) return allowed.error;
      const { row } = allowed.value;
      await insertRevocation(trx, row.id, caller.id, now);
      return { kind: 'ok', grant: { ...row, revoked_at: now, revoked_by: caller.id } };
    },
    save: (r) => ({ grantId: r.grant.id }),
    replay: async (trx, s) => ({ kind: 'ok', grant: (await findGrantsByIds(trx, [s.grantId]))[0]! }),
  });
}
