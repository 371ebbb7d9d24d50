import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './types/scalars.ts';
import './types/errors.ts';
import './types/actor.ts';
import './types/product.ts';
import './types/item.ts';
import './types/event.ts';
import './types/log.ts';
import './types/audit.ts';
import './types/rights.ts';
import './types/material.ts';
import './types/epcis.ts';
import './types/subscription.ts';
import './types/links.ts';
import './types/container.ts';
import './types/disclosure.ts';
import './types/actor-keys.ts';
import './types/signed-events.ts';

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

/** The executable schema; built once per process. */
export const schema: GraphQLSchema = builder.toSchema({ sortSchema: true });

/** SDL as committed in schema.graphql: printed from the lexicographically sorted schema. */
export const printedSchema = (): string => printSchema(lexicographicSortSchema(schema)) + '\n';
