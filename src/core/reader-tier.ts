/**
 * The disclosure tier of one reader for one event (docs/ledger-format.md §15): pure policy over facts the server
 * loads in bulk. `public` < `participants` < `authorities`; `core/v2/disclosure.ts` decides per field from it.
 */
import type { Tier } from './v2/disclosure.ts';

/** What the server knows about a reader relative to one event (every flag about this event's items). */
export interface ReaderFacts {
  /** The operator of the ledger. */
  operator: boolean;
  /** The reader has an all-products grant (the operator gives those to auditors). */
  allProducts: boolean;
  /** The reader has the AUDITOR role. */
  auditor: boolean;
  /** The reader owns the product of at least one item the event covers. */
  brandOwner: boolean;
  /** A grant in force covers at least one item of the event (its product or batch). */
  grantee: boolean;
  /** The reader recorded the event or is named in it (receiver, buyer). */
  party: boolean;
  /** The reader held at least one item of the event in a custody window that contains the event. */
  holderInWindow: boolean;
}

/**
 * auditors and the operator → authorities (the operator; all-products grantees; an AUDITOR reading under a grant
 * covering the event); the brand, holders in their custody windows, the event's own parties and grantees →
 * participants; anyone else who may see the event (e.g. a later holder reading a public history) → public.
 */
export function tierOfReader(f: ReaderFacts): Tier {
  if (f.operator || f.allProducts || (f.auditor && f.grantee)) return 'authorities';
  if (f.brandOwner || f.grantee || f.party || f.holderInWindow) return 'participants';
  return 'public';
}
