import { type ValidationFailure, invalid } from './failures.ts';
import { gs1CheckDigit } from './identifiers.ts';
import { ROLES, type Role } from './lifecycle.ts';
import { type Result, err, ok } from './result.ts';
import { checkText } from './text.ts';

/** The platform operator is never a party: it cannot be named as receiver, buyer or grantee (it is "not found"). */
export const isParty = (actor: { isOperator: boolean }): boolean => !actor.isOperator;

/** Returns a problem description, or undefined when `gln` is a 13-digit GLN with a valid GS1 check digit. */
export function validateGln(gln: string): string | undefined {
  if (!/^\d{13}$/.test(gln)) return 'GLN must be 13 digits';
  const expected = gs1CheckDigit(gln.slice(0, 12));
  if (Number(gln[12]) !== expected) return `GLN check digit is ${gln[12]}, expected ${expected}`;
  return undefined;
}

/** Returns a problem description, or undefined for a GS1 company prefix of 6–12 digits. */
export function validateCompanyPrefix(prefix: string): string | undefined {
  return /^\d{6,12}$/.test(prefix) ? undefined : `company prefix "${prefix}" must be 6 to 12 digits`;
}

/** How an actor may be named in an input: by internal id (from a global id or an actor URN) or by GLN. */
export type ActorName = { kind: 'id'; id: string } | { kind: 'gln'; gln: string };

const ACTOR_URN = /^urn:provenant:actor:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * Parses the textual forms of an actor name: a 13-digit GLN (check digit validated) or `urn:provenant:actor:{uuid}`.
 * Returns null when the value is neither (the caller may still try an Actor global id); an error for a 13-digit
 * value with a wrong check digit.
 */
export function parseActorName(value: string): Result<ActorName> | null {
  const v = value.trim();
  if (/^\d{13}$/.test(v)) {
    const problem = validateGln(v);
    return problem ? err(problem) : ok({ kind: 'gln', gln: v });
  }
  const urn = ACTOR_URN.exec(v);
  return urn ? ok({ kind: 'id', id: urn[1]!.toLowerCase() }) : null;
}

export interface NewActorRequest {
  name: string;
  roles: readonly string[];
  gln?: string | null;
  companyPrefixes?: readonly string[] | null;
}

export interface CheckedNewActor {
  name: string;
  roles: Role[];
  gln: string | null;
  companyPrefixes: string[];
}

/**
 * createActor's input, checked on its own: a bounded name, known roles (deduplicated), a valid GLN if any, valid GS1
 * company prefixes, which only a MANUFACTURER registers. Returns the trimmed values to store.
 */
export function checkNewActor(req: NewActorRequest, limits: { actorNameChars: number }): Result<CheckedNewActor, ValidationFailure> {
  const name = req.name.trim();
  const nameProblem = checkText(name, 'name', { min: 1, max: limits.actorNameChars });
  if (nameProblem) return err(invalid(nameProblem.field, nameProblem.message));
  const roles = [...new Set(req.roles)];
  const badRole = roles.find((r) => !ROLES.includes(r as Role));
  if (badRole) return err(invalid('roles', `unknown role "${badRole}"; expected one of ${ROLES.join(', ')}`));
  const gln = req.gln?.trim() || null;
  if (gln) {
    const problem = checkText(gln, 'gln', { max: 13 })?.message ?? validateGln(gln);
    if (problem) return err(invalid('gln', problem));
  }
  const prefixes = [...new Set((req.companyPrefixes ?? []).map((p) => p.trim()))];
  for (const p of prefixes) {
    const problem = validateCompanyPrefix(p);
    if (problem) return err(invalid('companyPrefixes', problem));
  }
  if (prefixes.length > 0 && !roles.includes('MANUFACTURER')) return err(invalid('companyPrefixes', 'only a MANUFACTURER registers GS1 company prefixes'));
  return ok({ name, roles: roles as Role[], gln, companyPrefixes: prefixes });
}
