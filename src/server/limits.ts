import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
// The cost rule of graphql-armor (a dependency of @escape.tech/graphql-armor, same pinned release train). It runs at
// execution time here, on the document with its effective page sizes; see `usePageAwareCostLimit`.
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  TypeInfo,
  getNamedType,
  getOperationAST,
  isObjectType,
  validate,
  visit,
  visitWithTypeInfo,
  type ArgumentNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type SelectionSetNode,
  isInterfaceType,
  type GraphQLSchema,
  type ValidationContext,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { MAX_PAGE_SIZE } from '../graphql/builder.ts';
import { DEFAULT_PAGE_SIZE } from '../graphql/pagination.ts';
import { EDGE_DEFAULTS, type Config } from './config.ts';
import { unicodeProblem } from '../core/text.ts';
import { inputError } from '../graphql/pagination.ts';

type Limits = Pick<Config, 'maxQueryDepth' | 'maxAliases' | 'maxTokens' | 'maxQueryCost' | 'maxDirectives' | 'introspection'> & Partial<Pick<Config, 'maxResponseBytes'>>;

/** Cost model: every object field 2, every scalar 1, no extra weight per level; lists weigh their page size. */
export const COST_MODEL = { objectCost: 2, scalarCost: 1, depthCostFactor: 1 } as const;

/**
 * A refused operation: armor's message without its misleading "Syntax Error:" prefix, code BAD_USER_INPUT and the
 * limit's name and value in `extensions` for programs.
 */
function limitError(armorError: GraphQLError, limit: string, max: number, http?: { spec: true; status: 400 }): GraphQLError {
  const message = armorError.message.replace(/^Syntax Error:\s*/, '');
  const found = /found (\d+(?:\.\d+)?)/.exec(message)?.[1];
  return new GraphQLError(message, {
    extensions: { code: 'BAD_USER_INPUT', limit, max, ...(found !== undefined ? { found: Number(found) } : {}), ...(http ? { http } : {}) },
  });
}

/** Reports through the validation context (so the request gets an ordinary GraphQL validation error). */
const report = (limit: string, max: number) => (ctx: ValidationContext | null, error: GraphQLError) => {
  if (!ctx) throw limitError(error, limit, max);
  ctx.reportError(limitError(error, limit, max));
};

/**
 * Hostile-input limits of the GraphQL endpoint: depth, aliases, directives and tokens through graphql-armor (pure
 * functions of the document, so yoga's validation cache stays correct), the page-aware cost limit at execution, and
 * introspection off when configured (field suggestions are then masked too, as they would leak the schema).
 */
export function useEdgeLimits(limits: Limits): Plugin[] {
  const plugins: Plugin[] = [
    EnvelopArmorPlugin({
      blockFieldSuggestion: { enabled: !limits.introspection },
      maxDepth: { n: limits.maxQueryDepth, propagateOnRejection: false, onReject: [report('maxDepth', limits.maxQueryDepth)] },
      maxAliases: { n: limits.maxAliases, propagateOnRejection: false, onReject: [report('maxAliases', limits.maxAliases)] },
      maxDirectives: { n: limits.maxDirectives, propagateOnRejection: false, onReject: [report('maxDirectives', limits.maxDirectives)] },
      // While parsing there is no validation context: the handler throws the rewritten error itself.
      maxTokens: { n: limits.maxTokens, onReject: [report('maxTokens', limits.maxTokens)] },
      costLimit: { enabled: false },
    }) as Plugin,
    usePageAwareCostLimit(limits.maxQueryCost),
    useReadArgumentGuard(),
    useResponseSizeLimit(limits.maxResponseBytes ?? EDGE_DEFAULTS.maxResponseBytes),
  ];
  if (!limits.introspection) {
    plugins.push({
      onValidate({ addValidationRule }) {
        addValidationRule(NoSchemaIntrospectionCustomRule);
      },
    });
  }
  return plugins;
}

/**
 * graphql-armor's cost limit on the page sizes the server will really use. Armor multiplies a list's cost by a
 * literal `first`/`last` only, so `first: $n` or an omitted `first` (which still returns DEFAULT_PAGE_SIZE rows) would
 * slip through; here, before armor's rule runs, each connection's `first`/`last` is replaced by its effective value:
 * the variable's value (or the variable's default), DEFAULT_PAGE_SIZE when absent, clamped to MAX_PAGE_SIZE (larger
 * values are refused by the connection itself with a ValidationError). Variables are only known at execution, and
 * yoga caches validation per document, so this runs in `onExecute` / `onSubscribe`.
 */
export function usePageAwareCostLimit(maxCost: number): Plugin {
  const check = (schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | null | undefined, operationName: string | null | undefined) => {
    const effective = withEffectivePageSizes(schema, document, variables ?? {}, operationName ?? undefined);
    // Large fields weigh extra (HEAVY_FIELDS); armor gets what is left of the budget and the message names the total.
    const heavy = heavyFieldCost(schema, effective, operationName ?? undefined);
    const refuse = (found: number) =>
      new GraphQLError(`Query Cost limit of ${maxCost} exceeded, found ${found} (large fields such as canonicalBody, data, epcisDocument and itemProofBundle count ${heavy}).`, {
        // Like a validation error: 400 for application/graphql-response+json, 200 for application/json.
        extensions: { code: 'BAD_USER_INPUT', limit: 'maxCost', max: maxCost, found, http: { spec: true, status: 400 } },
      });
    if (heavy >= maxCost) return refuse(heavy);
    let refused: GraphQLError | undefined;
    validate(schema, effective, [
      costLimitRule({
        ...COST_MODEL,
        maxCost: maxCost - heavy,
        propagateOnRejection: false,
        onReject: [(_ctx, error) => {
          const found = Number(/found (\d+(?:\.\d+)?)/.exec(error.message)?.[1] ?? maxCost - heavy);
          refused ??= heavy > 0 ? refuse(found + heavy) : limitError(error, 'maxCost', maxCost, { spec: true, status: 400 });
        }],
      }),
    ]);
    return refused;
  };
  // The verdict depends on the document, the operation and the values of variables given as `first`/`last`, so it
  // is kept per document (yoga's parser cache hands out one DocumentNode per query text) under those values.
  const verdicts = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, GraphQLError | null>>>();
  const cached = (schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | null | undefined, operationName: string | null | undefined) => {
    let bySchema = verdicts.get(schema);
    if (!bySchema) verdicts.set(schema, (bySchema = new WeakMap()));
    let byDoc = bySchema.get(document);
    if (!byDoc) bySchema.set(document, (byDoc = new Map()));
    const key = `${operationName ?? ''}\u0000${JSON.stringify(pageSizeVariables(document).map((v) => variables?.[v] ?? null))}`;
    const hit = byDoc.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const refused = check(schema, document, variables, operationName);
    if (byDoc.size < MAX_VERDICTS_PER_DOCUMENT) byDoc.set(key, refused ?? null);
    return refused;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = cached(args.schema, args.document, args.variableValues, args.operationName);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = cached(args.schema, args.document, args.variableValues, args.operationName);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
  };
}

/** Distinct page sizes remembered per document (a client paging with ever new sizes gets no more entries). */
const MAX_VERDICTS_PER_DOCUMENT = 64;
const pageVariables = new WeakMap<DocumentNode, string[]>();

/** Names of the variables a document passes as any `first` or `last` argument: all a cost verdict may depend on. */
function pageSizeVariables(document: DocumentNode): string[] {
  let names = pageVariables.get(document);
  if (!names) {
    const found = new Set<string>();
    visit(document, {
      Argument(node) {
        if ((node.name.value === 'first' || node.name.value === 'last') && node.value.kind === Kind.VARIABLE) found.add(node.value.name.value);
      },
    });
    pageVariables.set(document, (names = [...found].sort()));
  }
  return names;
}

/**
 * Extra cost of fields whose values can be large or costly to compute, per occurrence, times the page sizes of the
 * connections around them: `events(first: 100) { edges { node { canonicalBody } } }` weighs 100 × 50 on top of the
 * ordinary cost, so a handful of such aliases reaches the default limit long before the response could get large.
 */
export const HEAVY_FIELDS: Record<string, number> = {
  'Event.canonicalBody': 50,
  'Event.data': 10,
  'Item.verification': 20,
  'Query.epcisDocument': 1000,
  'Query.itemProofBundle': 1000,
};

/** Sum of HEAVY_FIELDS weights in an operation whose connection sizes are integer literals (`withEffectivePageSizes`). */
export function heavyFieldCost(schema: GraphQLSchema, document: DocumentNode, operationName?: string): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const root = schema.getRootType(operation.operation);
  const walk = (set: SelectionSetNode, parent: GraphQLNamedType | undefined | null, multiplier: number, seen: ReadonlySet<string>): number => {
    let total = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        const def = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[sel.name.value] : undefined;
        if (!def) continue;
        total += (HEAVY_FIELDS[`${parent!.name}.${sel.name.value}`] ?? 0) * multiplier;
        if (!sel.selectionSet) continue;
        let size = 1;
        if (isConnection(def.type)) {
          const arg = sel.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'last');
          size = arg?.value.kind === Kind.INT ? Number(arg.value.value) : DEFAULT_PAGE_SIZE;
        }
        total += walk(sel.selectionSet, getNamedType(def.type), multiplier * size, seen);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        total += walk(sel.selectionSet, sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent, multiplier, seen);
      } else {
        const fragment = fragments.get(sel.name.value);
        if (!fragment || seen.has(sel.name.value)) continue;
        total += walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), multiplier, new Set([...seen, sel.name.value]));
      }
    }
    return total;
  };
  return root ? walk(operation.selectionSet, root, 1, new Set()) : 0;
}

const isConnection = (type: unknown) => {
  const named = getNamedType(type as never);
  return isObjectType(named) && named.name.endsWith('Connection') && 'edges' in named.getFields();
};

/** The document with every connection field's `first`/`last` as the integer literal the resolver will use. */
export function withEffectivePageSizes(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>, operationName?: string): DocumentNode {
  const operation = getOperationAST(document, operationName);
  const defaults = new Map<string, ValueNode>();
  for (const def of operation?.variableDefinitions ?? []) if (def.defaultValue) defaults.set(def.variable.name.value, def.defaultValue);
  const valueOf = (node: ValueNode): number | null => {
    if (node.kind === Kind.INT) return Number(node.value);
    if (node.kind === Kind.VARIABLE) {
      const name = node.name.value;
      const given = variables[name];
      if (given !== undefined && given !== null) return typeof given === 'number' && Number.isInteger(given) ? given : null;
      const fallback = defaults.get(name);
      return fallback ? valueOf(fallback) : null;
    }
    return null;
  };
  const intArg = (name: string, value: number): ArgumentNode => ({
    kind: Kind.ARGUMENT,
    name: { kind: Kind.NAME, value: name },
    value: { kind: Kind.INT, value: String(Math.min(Math.max(value, 0), MAX_PAGE_SIZE)) },
  });
  const typeInfo = new TypeInfo(schema);
  return visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node: FieldNode) {
        const def = typeInfo.getFieldDef();
        if (!def || !isConnection(def.type)) return undefined;
        const args = (node.arguments ?? []).filter((a) => a.name.value !== 'first' && a.name.value !== 'last');
        let size: number | null = null;
        for (const a of node.arguments ?? []) {
          if (a.name.value !== 'first' && a.name.value !== 'last') continue;
          const v = valueOf(a.value);
          if (v !== null) size = Math.max(size ?? 0, v);
        }
        // Armor reads the first `first`/`last` argument it meets: put the effective one in front.
        return { ...node, arguments: [intArg('first', size ?? DEFAULT_PAGE_SIZE), ...args] };
      },
    }),
  );
}


/**
 * The first string argument of a query or subscription (literal or variable, at any depth) that no database can
 * take — a NUL (PostgreSQL refuses U+0000) or a lone UTF-16 surrogate — as a VALIDATION_ERROR naming the argument,
 * instead of an internal error from deep inside a resolver. Mutations are not checked here: each validates its
 * input itself and answers with its own typed ValidationError.
 */
export function findBadArgument(document: DocumentNode, variables: Record<string, unknown> | null | undefined, operationName?: string | null): GraphQLError | undefined {
  const literals = literalCheckOf(document, operationName);
  if (!literals) return undefined;
  if (literals.found) return literals.found;
  let found: GraphQLError | undefined;
  const walk = (v: unknown, path: string): void => {
    if (found) return;
    if (typeof v === 'string') {
      const problem = unicodeProblem(v);
      if (problem) found = inputError(path, `${path} ${problem}`);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const keyProblem = unicodeProblem(k);
        if (keyProblem) {
          found = inputError(path, `a key of ${path} ${keyProblem}`);
          return;
        }
        walk(x, `${path}.${k}`);
      }
    }
  };
  for (const [name, value] of Object.entries(variables ?? {})) walk(value, literals.argumentOf.get(name) ?? `$${name}`);
  return found;
}

type LiteralCheck = { found: GraphQLError | undefined; argumentOf: Map<string, string> } | null;
// The literal part of the check depends on the document and operation only: kept per document (yoga's parser cache
// hands out one DocumentNode per query text), so a repeated query costs a walk of its variables alone.
const literalChecks = new WeakMap<DocumentNode, Map<string, LiteralCheck>>();

/** The first bad string literal of the operation and where each variable is used; null for a mutation (not checked). */
function literalCheckOf(document: DocumentNode, operationName?: string | null): LiteralCheck {
  let byOperation = literalChecks.get(document);
  if (!byOperation) literalChecks.set(document, (byOperation = new Map()));
  const cacheKey = operationName ?? '';
  if (byOperation.has(cacheKey)) return byOperation.get(cacheKey)!;
  const operation = getOperationAST(document, operationName ?? undefined);
  let result: LiteralCheck = null;
  if (operation && operation.operation !== 'mutation') {
    const argumentOf = new Map<string, string>();
    let found: GraphQLError | undefined;
    const literal = (node: ValueNode, path: string): void => {
      if (found) return;
      if (node.kind === Kind.STRING) {
        const problem = unicodeProblem(node.value);
        if (problem) found = inputError(path, `${path} ${problem}`);
      } else if (node.kind === Kind.LIST) node.values.forEach((v, i) => literal(v, `${path}[${i}]`));
      else if (node.kind === Kind.OBJECT) for (const f of node.fields) literal(f.value, `${path}.${f.name.value}`);
      else if (node.kind === Kind.VARIABLE && !argumentOf.has(node.name.value)) argumentOf.set(node.name.value, path);
    };
    visit(operation, {
      Argument(node) {
        literal(node.value, node.name.value);
      },
    });
    result = { found, argumentOf };
  }
  if (byOperation.size < 16) byOperation.set(cacheKey, result);
  return result;
}

/** Refuses read operations whose string arguments contain NUL or lone surrogates (see {@link findBadArgument}). */
export function useReadArgumentGuard(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = findBadArgument(args.document, args.variableValues, args.operationName);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = findBadArgument(args.document, args.variableValues, args.operationName);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
  };
}

/**
 * Estimated UTF-8 size of a value as JSON, counting no further than `stop` (so a huge result costs at most a walk
 * up to the limit). Strings count their UTF-8 length plus quotes; escapes are ignored (an underestimate of at most
 * a few bytes per control character).
 */
export function estimateJsonBytes(value: unknown, stop: number): number {
  let total = 0;
  const seen = new Set<object>();
  const walk = (v: unknown): void => {
    if (total > stop) return;
    if (typeof v === 'string') total += (v.length < 64 ? v.length : Buffer.byteLength(v, 'utf8')) + 2;
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) total += 8;
    else if (v instanceof Date) total += 26;
    else if (Array.isArray(v)) {
      total += 2;
      for (const x of v) {
        walk(x);
        total += 1;
        if (total > stop) return;
      }
    } else if (typeof v === 'object') {
      if (seen.has(v)) return;
      seen.add(v);
      total += 2;
      for (const [k, x] of Object.entries(v)) {
        total += k.length + 4;
        walk(x);
        if (total > stop) return;
      }
    } else total += 8;
  };
  walk(value);
  return total;
}

const tooLarge = (max: number) =>
  new GraphQLError(
    `Response too large: the result exceeds ${max} bytes. Select fewer or smaller fields (canonicalBody, data, epcisDocument, proof bundles), fewer aliases, or smaller pages.`,
    { extensions: { code: 'RESPONSE_TOO_LARGE', limit: 'maxResponseBytes', max } },
  );

/**
 * Bounds every GraphQL response: a result (or subscription event) whose JSON would exceed `maxBytes` is replaced by
 * one RESPONSE_TOO_LARGE error before it is serialised, so large fields read through many aliases or pages cannot
 * build a response of hundreds of megabytes (or exhaust the process while serialising it).
 */
export function useResponseSizeLimit(maxBytes: number): Plugin {
  const guard = (result: { data?: unknown; errors?: unknown; extensions?: unknown }, setResult: (r: any) => void) => {
    if (estimateJsonBytes(result, maxBytes) > maxBytes) setResult({ data: null, errors: [tooLarge(maxBytes)] });
  };
  const hooks = {
    onExecuteDone({ result, setResult }: { result: any; setResult: (r: any) => void }) {
      if (result && typeof result[Symbol.asyncIterator] === 'function') {
        return { onNext: ({ result: next, setResult: setNext }: { result: any; setResult: (r: any) => void }) => guard(next, setNext) };
      }
      guard(result, setResult);
      return undefined;
    },
  };
  return {
    onExecute: () => hooks,
    onSubscribe: () => ({ onSubscribeResult: hooks.onExecuteDone }),
  } as Plugin;
}
