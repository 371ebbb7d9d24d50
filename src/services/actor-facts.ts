import type { ActorFacts } from '../core/rights.ts';
import type { ActorRow } from '../db/types.ts';

/** The stored actor as core's decisions need it (src/core/rights.ts). */
export const actorFacts = (a: ActorRow): ActorFacts => ({ id: a.id, roles: a.roles, isOperator: a.is_operator, companyPrefixes: a.company_prefixes });
