import { sql } from 'kysely';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Plugin } from 'graphql-yoga';
import { createCounter, createHistogram, usePrometheus, type FillLabelsFnParams } from '@graphql-yoga/plugin-prometheus';
import type { Db } from '../db/connection.ts';
import { READY_TIMEOUT_MS, withTimeout } from './health.ts';
import type { Logger } from './logger.ts';

/** Distinct operation names kept as label values; later new names are counted under `__other` (bounded cardinality). */
export const MAX_OPERATION_NAMES = 500;
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

/** Maps client-chosen operation names to label values without letting a client grow the label set without bound. */
export function operationNameLabel(max = MAX_OPERATION_NAMES): (name: string | undefined) => string {
  const seen = new Set<string>();
  return (name) => {
    if (!name || name === 'Anonymous') return 'Anonymous';
    if (!GRAPHQL_NAME.test(name)) return '__invalid';
    if (seen.has(name)) return name;
    if (seen.size >= max) return '__other';
    seen.add(name);
    return name;
  };
}

/**
 * Ledger figures read from the database at scrape time, so every process behind a load balancer reports the shared
 * truth and nothing is lost on restart. The log size and the events with `leaf_index` in [counted, size) are read in
 * one statement (one snapshot): a writer moves `log_state.size` in the same transaction as it inserts those events,
 * so the counts by kind add up exactly. Only events new since the previous scrape are counted (the first scrape after
 * start counts all of them once), which keeps a scrape cheap on a large ledger.
 */
class LedgerFigures {
  size = 0;
  readonly byKind = new Map<string, number>();
  up = 0;
  private inFlight: Promise<void> | undefined;

  constructor(private db: Db, private logger: Logger) {}

  /** One query per scrape even though several metrics ask. */
  refresh(): Promise<void> {
    return (this.inFlight ??= this.read().finally(() => (this.inFlight = undefined)));
  }

  private async read(): Promise<void> {
    try {
      let from = this.size;
      let rows = await this.query(from);
      const size = Number(rows[0]?.size ?? 0);
      if (size < from) {
        // A different (restored or reset) database: count from scratch.
        this.byKind.clear();
        from = 0;
        rows = await this.query(0);
      }
      for (const r of rows) if (r.kind !== null) this.byKind.set(r.kind, (this.byKind.get(r.kind) ?? 0) + Number(r.n));
      this.size = Number(rows[0]?.size ?? 0);
      this.up = 1;
    } catch (e) {
      this.up = 0;
      this.logger.warn('metrics: cannot read ledger figures from the database', { error: e });
    }
  }

  private async query(from: number) {
    const query = sql<{ size: number; kind: string | null; n: number }>`
      WITH head AS (SELECT size FROM log_state)
      SELECT head.size, e.kind, count(e.leaf_index) AS n
      FROM head LEFT JOIN events e ON e.leaf_index >= ${from} AND e.leaf_index < head.size
      GROUP BY head.size, e.kind`.execute(this.db);
    return (await withTimeout(query, READY_TIMEOUT_MS, 'the database')).rows;
  }
}

/**
 * Prometheus metrics on a registry of this app (not prom-client's global one, so several apps in one process do not
 * collide), served at GET /metrics by yoga's Prometheus plugin:
 * - `graphql_envelop_request{operationName,operationType}` (counter) and `graphql_envelop_request_duration` (histogram,
 *   seconds, parse to end of execution), `graphql_envelop_error_result{operationName,operationType,phase}`,
 *   `graphql_yoga_http_duration{operationName,operationType,method,statusCode}` (histogram, whole HTTP request);
 *   operation names are bounded (see `operationNameLabel`) and no URL label is kept (GET URLs carry variables);
 * - `provenant_log_size` (gauge) and `provenant_events_recorded_total{kind}` (counter), read from the database on
 *   scrape (see `LedgerFigures`), and `provenant_database_up` (1 when that read succeeded);
 * - Node.js process metrics (`process_*`, `nodejs_*`).
 */
export function createMetrics(db: Db, logger: Logger): { registry: Registry; plugin: Plugin } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const figures = new LedgerFigures(db, logger);
  new Gauge({
    name: 'provenant_log_size',
    help: 'Number of leaves (recorded events) in the Merkle log',
    registers: [registry],
    async collect() {
      await figures.refresh();
      this.set(figures.size);
    },
  });
  new Counter({
    name: 'provenant_events_recorded_total',
    help: 'Events recorded in the ledger, by kind (counted from the database)',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      await figures.refresh();
      // Reset and add back the totals synchronously: a concurrent scrape cannot interleave here.
      this.reset();
      for (const [kind, n] of figures.byKind) this.inc({ kind }, n);
    },
  });
  new Gauge({
    name: 'provenant_database_up',
    help: '1 when the last scrape could read the ledger figures from the database, else 0',
    registers: [registry],
    async collect() {
      await figures.refresh();
      this.set(figures.up);
    },
  });

  const op = operationNameLabel();
  const opLabels = (p: FillLabelsFnParams) => ({ operationName: op(p.operationName), operationType: p.operationType ?? 'unknown' });
  const plugin = usePrometheus({
    registry,
    endpoint: '/metrics',
    metrics: {
      graphql_envelop_request: createCounter({
        registry,
        counter: { name: 'graphql_envelop_request', help: 'GraphQL operations executed', labelNames: ['operationName', 'operationType'] },
        fillLabelsFn: opLabels,
      }),
      graphql_envelop_request_duration: createHistogram({
        registry,
        histogram: { name: 'graphql_envelop_request_duration', help: 'Seconds from parse to the end of execution of GraphQL operations', labelNames: ['operationName', 'operationType'] },
        fillLabelsFn: opLabels,
      }),
      graphql_envelop_error_result: createCounter({
        registry,
        counter: { name: 'graphql_envelop_error_result', help: 'Errors in GraphQL results, by phase', labelNames: ['operationName', 'operationType', 'phase'] },
        fillLabelsFn: (p: FillLabelsFnParams) => ({ ...opLabels(p), phase: p.errorPhase ?? 'unknown' }),
      }),
      graphql_yoga_http_duration: createHistogram({
        registry,
        histogram: {
          name: 'graphql_yoga_http_duration',
          help: 'Seconds spent on GraphQL HTTP requests',
          labelNames: ['operationName', 'operationType', 'method', 'statusCode'],
        },
        fillLabelsFn: (p: FillLabelsFnParams & { request: Request; response: Response }) => ({
          ...opLabels(p),
          method: p.request.method,
          statusCode: p.response.status,
        }),
      }),
      graphql_envelop_request_time_summary: false,
      graphql_envelop_phase_parse: false,
      graphql_envelop_phase_validate: false,
      graphql_envelop_phase_context: false,
      graphql_envelop_phase_execute: false,
      graphql_envelop_phase_subscribe: false,
      graphql_envelop_deprecated_field: false,
      graphql_envelop_schema_change: false,
      graphql_envelop_execute_resolver: false,
    },
  });
  return { registry, plugin };
}
