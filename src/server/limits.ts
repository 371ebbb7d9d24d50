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
  type GraphQLSchema,
  type ValidationContext,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { MAX_PAGE_SIZE } from '../graphql/builder.ts';
import { DEFAULT_PAGE_SIZE } from '../graphql/pagination.ts';
import type { Config } from './config.ts';

type Limits = Pick<Config, 'maxQueryDepth' | 'maxAliases' | 'maxTokens' | 'maxQueryCost' | 'maxDirectives' | 'introspection'>;

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
    let refused: GraphQLError | undefined;
    validate(schema, effective, [
      costLimitRule({
        ...COST_MODEL,
        maxCost,
        propagateOnRejection: false,
        // Like a validation error: 400 for application/graphql-response+json, 200 for application/json.
        onReject: [(_ctx, error) => (refused ??= limitError(error, 'maxCost', maxCost, { spec: true, status: 400 }))],
      }),
    ]);
    return refused;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = check(args.schema, args.document, args.variableValues, args.operationName);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = check(args.schema, args.document, args.variableValues, args.operationName);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
  };
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
