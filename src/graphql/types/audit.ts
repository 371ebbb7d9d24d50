import { auditLedger, type AuditReport } from '../../services/audit.ts';
import { builder } from '../builder.ts';

const AuditReportRef = builder.objectRef<AuditReport>('AuditReport').implement({
  description: 'Result of recomputing the whole log and every item chain from the database (what `provenant audit` prints).',
  fields: (t) => ({
    ok: t.boolean({ description: 'True when no discrepancy was found.', resolve: (r) => r.discrepancies.length === 0 }),
    treeSize: t.exposeInt('treeSize', { description: 'Size of the log recomputed from stored events.' }),
    events: t.exposeInt('events'),
    items: t.exposeInt('items'),
    links: t.exposeInt('links', { description: 'Chain links checked.' }),
    pending: t.exposeInt('pending', { description: 'Events written but not yet integrated into the log; their links are not checked against it.' }),
    discrepancies: t.exposeStringList('discrepancies', { description: 'Every finding, at most 1,000.' }),
  }),
});

builder.queryField('audit', (t) =>
  t.field({
    type: AuditReportRef,
    description:
      'Operator only: audits the ledger on one consistent snapshot (log root, stored tree, latest signed checkpoint, ' +
      'every event body and item chain). Reads everything: on the embedded database other requests wait while it runs.',
    authScopes: { operator: true },
    resolve: (_r, _a, ctx) => auditLedger(ctx.db, ctx.signer.verifierKey),
  }),
);
