import { GraphQLError } from 'graphql';
import type { YogaInitialContext } from 'graphql-yoga';
import { normalizeGtin, parseDigitalLink, parseSgtinUrn } from '../../core/identifiers.ts';
import { readScope } from '../../core/rights.ts';
import type { EventRow } from '../../db/types.ts';
import { grantsOf } from '../../db/visibility.ts';
import { authenticate } from '../../services/authenticate.ts';
import {
  type Authorization,
  type FeedFilter,
  type FeedMessage,
  FEED_MAX_FILTER_VALUES,
  FEED_PAGE_SIZE,
  FEED_POLL_INTERVAL_MS,
  currentLogPosition,
  ledgerEventFeed,
} from '../../services/event-feed.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { createLoaders } from '../loaders.ts';
import { inputError, isUuid } from '../pagination.ts';
import { EventRef } from '../refs.ts';
import { BatchSelectorInput, EventKindEnum, parseItemRefs } from './event.ts';

const LedgerEventFilter = builder.inputType('LedgerEventFilter', {
  description: `Which events a ledgerEvents subscription delivers. Every list given (non-empty) must match; values within one list are alternatives. At most ${FEED_MAX_FILTER_VALUES} values per list.`,
  fields: (t) => ({
    kinds: t.field({ type: [EventKindEnum], description: 'Only events of these kinds.' }),
    products: t.stringList({ description: 'GTINs: only events touching an item of one of these products.' }),
    batches: t.field({ type: [BatchSelectorInput], description: 'Only events touching an item of one of these batches (batches registered later match too).' }),
    items: t.stringList({ description: 'Item global ids, SGTIN URNs or GS1 Digital Links: only events touching one of these items.' }),
  }),
});

type LedgerEventMessageShape = { position: number; event: EventRow };

const LedgerEventMessage = builder.objectRef<LedgerEventMessageShape>('LedgerEventMessage').implement({
  description: 'One event of a ledgerEvents subscription, with its log position (resume with `after: position`).',
  fields: (t) => ({
    position: t.exposeInt('position', { description: 'The event’s leaf index in the Merkle log (= Event.leafIndex).' }),
    event: t.field({ type: EventRef, resolve: (m) => m.event }),
  }),
});

type FilterArg = {
  kinds?: readonly string[] | null;
  products?: readonly string[] | null;
  batches?: readonly { gtin: string; lot: string }[] | null;
  items?: readonly string[] | null;
} | null | undefined;

/** Validates the filter into SQL-ready values; bad identifiers are a VALIDATION_ERROR at subscription time. */
function parseFilter(f: FilterArg): FeedFilter {
  for (const name of ['kinds', 'products', 'batches', 'items'] as const) {
    if ((f?.[name]?.length ?? 0) > FEED_MAX_FILTER_VALUES) throw inputError(`filter.${name}`, `at most ${FEED_MAX_FILTER_VALUES} values in filter.${name}`);
  }
  const gtins = (f?.products ?? []).map((g, i) => {
    const n = normalizeGtin(g);
    if (!n.ok) throw inputError(`filter.products[${i}]`, n.error);
    return n.value;
  });
  const batches = (f?.batches ?? []).map((b, i) => {
    const n = normalizeGtin(b.gtin);
    if (!n.ok) throw inputError(`filter.batches[${i}].gtin`, n.error);
    return { gtin: n.value, lot: b.lot };
  });
  const itemIds: string[] = [];
  const itemKeys: { gtin: string; serial: string }[] = [];
  parseItemRefs(f?.items ?? []).forEach((ref, i) => {
    if (ref.kind === 'id') {
      if (!isUuid(ref.value)) throw inputError(`filter.items[${i}]`, 'not an Item id, SGTIN URN or GS1 Digital Link');
      itemIds.push(ref.value);
      return;
    }
    const p = ref.kind === 'sgtin' ? parseSgtinUrn(ref.value) : parseDigitalLink(ref.value);
    if (!p.ok) throw inputError(`filter.items[${i}]`, p.error);
    itemKeys.push({ gtin: p.value.gtin14, serial: p.value.serial });
  });
  return { kinds: [...(f?.kinds ?? [])], gtins, batches, itemIds, itemKeys };
}

const unauthenticated = (message: string) => new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED' } });

/** The HTTP request of this operation (yoga merges it into every context). */
const requestOf = (ctx: Context): Request | undefined => (ctx as Context & Partial<YogaInitialContext>).request;

/**
 * Re-authenticates the request's bearer key against the database and recomputes the read scope at `ctx.now()`; on
 * success the context's auth, scope and loaders are replaced, so the fields of the events delivered next (items,
 * actors, …) are resolved with the subscriber's current rights and no cache outlives one page.
 */
async function reauthorize(ctx: Context, header: string | null): Promise<Authorization> {
  const auth = await authenticate(ctx.db, header, ctx.operatorKeyHash);
  if (auth.kind !== 'actor') return { ok: false, message: auth.message };
  const scope = readScope(auth.actor.id, auth.actor.is_operator, await grantsOf(ctx.db, auth.actor.id), ctx.now());
  ctx.auth = auth;
  ctx.scope = scope;
  ctx.loaders = createLoaders(ctx.db, scope);
  return { ok: true, scope };
}

builder.subscriptionField('ledgerEvents', (t) =>
  t.field({
    type: LedgerEventMessage,
    description:
      'Ledger events the caller may see, in log order, each once, with its log position: first those after `after` ' +
      '(replayed from the database), then new ones as they are recorded (the database is polled every ' +
      `${FEED_POLL_INTERVAL_MS} ms by log position, ${FEED_PAGE_SIZE} events per read). Over GraphQL over SSE (POST with ` +
      '`accept: text/event-stream`). The API key and the caller’s grants are re-checked before every read: when the ' +
      'key is revoked (or the actor is gone) the stream sends one error with code UNAUTHENTICATED and completes; an ' +
      'expired or revoked grant just stops the events it covered. Positions of events not delivered (not visible or ' +
      'not matching) are skipped silently, so resuming with the last position received never repeats or misses one.',
    args: {
      filter: t.arg({ type: LedgerEventFilter }),
      after: t.arg.int({
        description: 'Deliver events whose log position (leaf index) is greater than this; -1 replays from the start. Default: only events recorded from now on.',
      }),
    },
    subscribe: async (_root, args, ctx) => {
      if (ctx.auth.kind !== 'actor') throw new GraphQLError(ctx.auth.message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
      if (args.after !== null && args.after !== undefined && args.after < -1) throw inputError('after', 'after must be a log position (≥ -1)');
      const filter = parseFilter(args.filter);
      const request = requestOf(ctx);
      const header = request?.headers.get('authorization') ?? null;
      // Fixed before the response starts, so "from now" means from the moment the subscription is acknowledged.
      const after = args.after ?? (await currentLogPosition(ctx.db));
      const stop = new AbortController();
      const onRequestAbort = () => stop.abort();
      request?.signal?.addEventListener('abort', onRequestAbort, { once: true });
      const feed = ledgerEventFeed({ db: ctx.db, after, filter, signal: stop.signal, authorize: () => reauthorize(ctx, header) });
      const finish = () => {
        stop.abort();
        request?.signal?.removeEventListener('abort', onRequestAbort);
      };
      // Aborting first wakes a feed that is waiting between polls, so return() takes effect at once.
      const iterator: AsyncIterableIterator<FeedMessage> = {
        next: async () => {
          const r = await feed.next();
          if (r.done) finish();
          return r;
        },
        return: async () => {
          finish();
          await feed.return(undefined);
          return { done: true, value: undefined };
        },
        throw: async (e: unknown) => {
          finish();
          await feed.return(undefined);
          throw e;
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
      return iterator;
    },
    resolve: (msg: FeedMessage) => {
      if (msg.kind === 'denied') throw unauthenticated(msg.message);
      return { position: msg.position, event: msg.event };
    },
  }),
);
