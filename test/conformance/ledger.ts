/** Helpers of the conformance suite: actors with GLNs, lifecycle steps and the EPCIS REST endpoints of a test server. */
import { parse } from '../helpers/epcis-capture.ts';
import { expect } from 'vitest';
import { gs1CheckDigit } from '../../src/core/identifiers.ts';
import { captureAndWait } from '../helpers/epcis-capture.ts';
import { lifecycle, type TestActor } from '../helpers/ledger.ts';
import type { TestServer } from '../helpers/server.ts';
import type { Json } from './gs1.ts';

export const withCheck = (digits: string): string => digits + String(gs1CheckDigit(digits));

export interface Actor extends TestActor {
  gln: string | null;
}

export async function createActor(srv: TestServer, name: string, roles: string[], gln: string | null, companyPrefixes: string[] = []): Promise<Actor> {
  const { body } = await srv.gql(
    `mutation($input: CreateActorInput!) { createActor(input: $input) { __typename ... on CreateActorSuccess { secret actor { id } } ... on Error { message } } }`,
    { input: { name, roles, companyPrefixes, ...(gln ? { gln } : {}) } },
  );
  expect(body.data?.createActor?.__typename, JSON.stringify(body)).toBe('CreateActorSuccess');
  return { id: body.data.createActor.actor.id, key: body.data.createActor.secret, name, gln };
}

export async function registerProduct(srv: TestServer, maker: Actor, gtin: string): Promise<void> {
  const p = await srv.gql(`mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on Error { message } } }`, { i: { gtin, name: `Product ${gtin}` } }, maker.key);
  expect(p.body.data.registerProduct.__typename, JSON.stringify(p.body)).toBe('RegisterProductSuccess');
}

export async function registerBatch(srv: TestServer, maker: Actor, gtin: string, lot: string, serials: string[], site: string, producedAt: string): Promise<void> {
  const b = await srv.gql(`mutation($i: RegisterBatchInput!) { registerBatch(input: $i) { __typename ... on Error { message } } }`, { i: { gtin, lot, producedAt, site, serials } }, maker.key);
  expect(b.body.data.registerBatch.__typename, JSON.stringify(b.body)).toBe('RegisterBatchSuccess');
}

/** A lifecycle mutation that must succeed. */
export async function step(srv: TestServer, actor: Actor, mutation: string, input: Record<string, unknown>): Promise<Json> {
  const r = await lifecycle(srv, actor, mutation, input);
  expect(r.__typename, `${mutation}: ${JSON.stringify(r)}`).toBe('RecordEventSuccess');
  return r;
}

export async function treeSize(srv: TestServer): Promise<number> {
  const { body } = await srv.gql(`{ logInfo { treeSize } }`, {}, null);
  return body.data.logInfo.treeSize;
}


/** GET /epcis/events?{query} with the actor's key. */
export async function epcisQuery(srv: TestServer, key: string, query = '', headers: Record<string, string> = {}) {
  return parse(await fetch(`${srv.origin}/epcis/events${query ? `?${query}` : ''}`, { headers: { authorization: `Bearer ${key}`, ...headers } }));
}

/** POST /epcis/capture (a string body is sent as is), followed to the end of its capture job (`captureAndWait`). */
export async function epcisCapture(srv: TestServer, key: string, document: unknown) {
  return captureAndWait(srv.origin, key, document);
}

export const eventsOf = (queryDoc: Json): Json[] => queryDoc['epcisBody'].queryResults.resultsBody.eventList;
