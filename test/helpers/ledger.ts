import { expect } from 'vitest';
import type { TestServer } from './server.ts';

export interface TestActor {
  id: string;
  key: string;
  name: string;
}

/** Creates an actor through the API as the operator and returns its global id and key. */
export async function createTestActor(srv: TestServer, name: string, roles: string[], companyPrefixes: string[] = []): Promise<TestActor> {
  const { body } = await srv.gql(
    `mutation($input: CreateActorInput!) { createActor(input: $input) { __typename ... on CreateActorSuccess { secret actor { id } } ... on Error { message } } }`,
    { input: { name, roles, companyPrefixes } },
  );
  expect(body.data?.createActor?.__typename, JSON.stringify(body)).toBe('CreateActorSuccess');
  return { id: body.data.createActor.actor.id, key: body.data.createActor.secret, name };
}

export const RESULT_FIELDS = `__typename
  ... on RecordEventSuccess { event { id kind leafIndex itemCount contentHash } }
  ... on Error { message }
  ... on PermissionDeniedError { rule items { item from kind reason } }
  ... on InvalidTransitionError { item from kind items { item from kind reason } }
  ... on ValidationError { field }`;

/** Runs a lifecycle mutation (`shipItems`, …) and returns its result object. */
export async function lifecycle(srv: TestServer, actor: TestActor, mutation: string, input: Record<string, unknown>) {
  const { body } = await srv.gql(`mutation($input: ${mutation.charAt(0).toUpperCase() + mutation.slice(1)}Input!) { ${mutation}(input: $input) { ${RESULT_FIELDS} } }`, { input }, actor.key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data[mutation];
}

export async function registerProductAndBatch(
  srv: TestServer,
  maker: TestActor,
  opts: { gtin: string; lot: string; serials?: string[]; range?: { count: number; firstSerial: string }; producedAt?: string },
) {
  const p = await srv.gql(`mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on Error { message } } }`, { i: { gtin: opts.gtin, name: `Product ${opts.gtin}` } }, maker.key);
  expect(['RegisterProductSuccess', 'ConflictError']).toContain(p.body.data.registerProduct.__typename);
  const b = await srv.gql(
    `mutation($i: RegisterBatchInput!) { registerBatch(input: $i) { __typename ... on RegisterBatchSuccess { batch { id lot } event { id kind itemCount leafIndex } } ... on Error { message } ... on ValidationError { field } } }`,
    { i: { gtin: opts.gtin, lot: opts.lot, producedAt: opts.producedAt ?? '2026-01-10T08:00:00.000+01:00', site: 'Plant 1', serials: opts.serials, range: opts.range } },
    maker.key,
  );
  return b.body.data.registerBatch;
}

export const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
