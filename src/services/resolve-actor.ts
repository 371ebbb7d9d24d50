import { type ActorName, isParty, parseActorName } from '../core/party.ts';
import { findActorsByGln, findActorsByIds } from '../db/actors.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import type { ActorRow } from '../db/types.ts';
import { type NotFoundFailure, type ValidationFailure, invalid, notFound } from './results.ts';

/** The forms accepted wherever an input names an actor (also in error messages and the schema). */
export const ACTOR_NAME_FORMS = 'an Actor id, a 13-digit GLN or urn:provenant:actor:{uuid}';

/**
 * Which form an actor name in input `field` takes, without reading the database: an id (of an actor that may not
 * exist) or a GLN (to be looked up). A ValidationError for a value in none of the forms.
 */
export function parseActorNameIn(value: string, field: string, decodeId: (value: string) => string | null): ActorName | ValidationFailure {
  const parsed = parseActorName(value);
  if (parsed && !parsed.ok) return invalid(field, `${field}: ${parsed.error}`);
  if (parsed) return parsed.value;
  const id = decodeId(value.trim());
  if (id === null) return invalid(field, `${field} must be ${ACTOR_NAME_FORMS}`);
  return { kind: 'id', id };
}

/**
 * Resolves an actor named in input `field`: `decodeId` turns an API global id into an internal id (null when the
 * value is not one). Never resolves the operator. Fails with a ValidationError for a value in none of the forms (or
 * a GLN shared by several actors) and a NotFoundError when the form is right but no actor has it.
 */
export async function resolveActorName(
  db: DbOrTrx,
  value: string,
  field: string,
  decodeId: (value: string) => string | null,
): Promise<{ kind: 'ok'; actor: ActorRow } | ValidationFailure | NotFoundFailure> {
  const name = parseActorNameIn(value, field, decodeId);
  if ('field' in name) return name;
  if (name.kind === 'gln') {
    const found = (await findActorsByGln(db, name.gln)).filter((a) => isParty({ isOperator: a.is_operator }));
    if (found.length === 0) return notFound(`no actor with GLN ${name.gln} was found`);
    if (found.length > 1) return invalid(field, `GLN ${name.gln} belongs to ${found.length} actors; name one by its id`);
    return { kind: 'ok', actor: found[0]! };
  }
  const [actor] = isUuid(name.id) ? await findActorsByIds(db, [name.id]) : [];
  if (!actor || !isParty({ isOperator: actor.is_operator })) return notFound(`${field}: the named actor was not found`);
  return { kind: 'ok', actor };
}
