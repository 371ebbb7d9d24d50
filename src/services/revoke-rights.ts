import type { Db } from '../db/connection.ts';
import { findGrantsByIds, insertRevocation } from '../db/grants.ts';
import type { ActorRow } from '../db/types.ts';
import type { GrantResult } from './grant-rights.ts';
import { idempotent } from './idempotency.ts';
import { conflict, denied, notFound } from './results.ts';

/** The grantor (or the operator) revokes a grant; it stops working at once. Revoking twice is refused. */
export async function revokeRights(db: Db, caller: ActorRow, grantId: string, now: Date, opts: { idempotencyKey?: string | null } = {}): Promise<GrantResult> {
  return db.transaction().execute((trx) =>
    idempotent(trx, caller.id, opts.idempotencyKey, 'revokeRights', { grantId }, {
      run: async (): Promise<GrantResult> => {
        const [grant] = await findGrantsByIds(trx, [grantId]);
        if (!grant || (grant.grantor_id !== caller.id && grant.grantee_id !== caller.id && !caller.is_operator)) return notFound('grant not found');
        if (grant.grantor_id !== caller.id && !caller.is_operator) return denied('NOT_GRANTOR', 'only who granted it (or the operator) may revoke a grant');
        if (grant.revoked_at) return conflict(`grant was already revoked at ${grant.revoked_at.toISOString()}`);
        await insertRevocation(trx, grant.id, caller.id, now);
        return { kind: 'ok', grant: { ...grant, revoked_at: now, revoked_by: caller.id } };
      },
      save: (r) => ({ grantId: r.grant.id }),
      replay: async (s) => ({ kind: 'ok', grant: (await findGrantsByIds(trx, [s.grantId]))[0]! }),
    }),
  );
}
