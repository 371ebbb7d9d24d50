import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../../src/db/connection.ts';
import { databaseUnavailableError } from '../../src/server/health.ts';

// Which errors mean "the database went away" (503, retry) rather than a bug (masked 500). The outage itself, with a
// real PostgreSQL stopped under a running server, is in test/ops (npm run test:ops).
const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['reset connection', withCode('read ECONNRESET', 'ECONNRESET')],
    ['backend terminated (57P01)', withCode('terminating connection due to administrator command', '57P01')],
    ['server starting up (57P03)', withCode('the database system is starting up', '57P03')],
    ['connection exception class 08', withCode('connection failure', '08006')],
    ['pg: connection terminated', new Error('Connection terminated unexpectedly')],
    ['pg: connect timeout', new Error('timeout exceeded when trying to connect')],
    ['startup failure', new DatabaseUnavailableError('cannot connect to DATABASE_URL postgres://x')],
    ['wrapped by GraphQL', new GraphQLError('Unexpected error.', { originalError: withCode('connect ECONNREFUSED', 'ECONNREFUSED') })],
    ['in a cause chain', new Error('query failed', { cause: new Error('Connection terminated due to connection timeout') })],
  ])('%s → unavailable', (_name, e) => {
    expect(isDatabaseUnavailable(e)).toBe(true);
    const g = databaseUnavailableError(e)!;
    expect(g.message).toBe('The database is unavailable; try again shortly');
    expect(g.extensions).toEqual({ code: 'DATABASE_UNAVAILABLE', http: { status: 503, headers: { 'retry-after': '5' } } });
  });

  it.each([
    ['syntax error (42601)', withCode('syntax error at or near "SELEC"', '42601')],
    ['unique violation (23505)', withCode('duplicate key value', '23505')],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['not an error', 'ECONNREFUSED'],
  ])('%s → not unavailable', (_name, e) => {
    expect(isDatabaseUnavailable(e)).toBe(false);
    expect(databaseUnavailableError(e)).toBeUndefined();
  });
});
