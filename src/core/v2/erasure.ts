/**
 * Who may erase which field of an event (docs/ledger-format.md §10), as a pure decision: the brand owner of every
 * item the event covers, or the operator; only a committed field of a v2 event that is not erased yet; never `actor`
 * (rights and audits are judged by it) and never a field of an ERASE event (the record of an erasure stays whole).
 */
import { type Result, err, ok } from '../result.ts';
import type { KindV2 } from './event-v2.ts';
import { FIELD_NAME } from './fields.ts';

export interface ErasureFacts {
  callerId: string;
  isOperator: boolean;
  /** The event exists and the caller may see it (else it is answered as missing). */
  visible: boolean;
  format: 1 | 2;
  kind: KindV2;
  /** Brand owners of the products of every item the event covers. */
  brandOwnerIds: readonly string[];
  /** Names of the event's committed fields that still hold a value, and of those already erased. */
  held: readonly string[];
  erased: readonly string[];
  field: string;
  reason: string;
}

export type ErasureDenial =
  | { type: 'NotFound' }
  | { type: 'PermissionDenied'; rule: 'NOT_BRAND_OWNER' }
  | { type: 'Invalid'; field: 'field' | 'reason' | 'event'; message: string }
  | { type: 'AlreadyErased'; message: string };

export const MAX_ERASURE_REASON = 500;

/** Decides an erasure request. Checks, in order: visibility, rights, the request, the field's state. */
export function decideErasure(f: ErasureFacts): Result<null, ErasureDenial> {
  if (!f.visible) return err({ type: 'NotFound' });
  const owner = f.brandOwnerIds.length > 0 && f.brandOwnerIds.every((o) => o === f.callerId);
  if (!f.isOperator && !owner) return err({ type: 'PermissionDenied', rule: 'NOT_BRAND_OWNER' });
  if (f.reason.trim() === '' || f.reason.length > MAX_ERASURE_REASON) return err({ type: 'Invalid', field: 'reason', message: `a reason of 1 to ${MAX_ERASURE_REASON} characters is required` });
  if (f.format !== 2) return err({ type: 'Invalid', field: 'event', message: 'only fields of v2 events can be erased (a v1 body holds its values directly)' });
  if (f.kind === 'ERASE') return err({ type: 'Invalid', field: 'event', message: 'an ERASE event cannot be erased' });
  if (!FIELD_NAME.test(f.field)) return err({ type: 'Invalid', field: 'field', message: `${JSON.stringify(f.field)} is not a field name` });
  if (f.erased.includes(f.field)) return err({ type: 'AlreadyErased', message: `field ${f.field} of this event is already erased` });
  if (f.field === 'actor') return err({ type: 'Invalid', field: 'field', message: 'the actor of an event cannot be erased' });
  if (!f.held.includes(f.field)) return err({ type: 'Invalid', field: 'field', message: `the event commits no field ${f.field}` });
  return ok(null);
}
