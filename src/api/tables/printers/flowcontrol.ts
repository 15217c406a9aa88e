// flowcontrol.apiserver.k8s.io printers: flow schemas (listed in matching order) and priority levels.
import type { FlowSchema, PriorityLevelConfiguration } from 'kubernetes-types/flowcontrol/v1.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';
import type { TableCell } from '../types.js';

/** Lower matchingPrecedence first, then by name: the order the API server matches requests in. */
export function flowSchemaOrder(items: ReadonlyArray<Readonly<FlowSchema>>): ReadonlyArray<Readonly<FlowSchema>> {
  return [...items].sort((a, b) => {
    const pa = a.spec?.matchingPrecedence ?? 0;
    const pb = b.spec?.matchingPrecedence ?? 0;
    if (pa !== pb) return pa - pb;
    const na = a.metadata?.name ?? '';
    const nb = b.metadata?.name ?? '';
    return na < nb ? -1 : na > nb ? 1 : 0;
  });
}

export const flowSchemaPrinter = printer<FlowSchema>(
  [
    NAME_COLUMN,
    column('PriorityLevel', 'string', 'The priority level requests matching the schema go to.'),
    column('MatchingPrecedence', 'string', 'The schema’s rank when matching requests; lower wins.'),
    column('DistinguisherMethod', 'string', 'How requests are split into flows: ByUser, ByNamespace, or none.'),
    AGE_COLUMN,
    column('MissingPL', 'string', 'Whether the schema names a priority level that does not exist.'),
  ],
  (fs, ctx) => {
    const dangling = (fs.status?.conditions ?? []).find((c) => c.type === 'Dangling');
    return [
      fs.metadata?.name ?? '',
      fs.spec?.priorityLevelConfiguration?.name ?? '',
      fs.spec?.matchingPrecedence ?? 0,
      fs.spec?.distinguisherMethod?.type ?? '<none>',
      ageSince(fs.metadata?.creationTimestamp, ctx.now),
      dangling ? (dangling.status ?? '') : '?',
    ];
  },
  flowSchemaOrder,
);

export const priorityLevelConfigurationPrinter = printer<PriorityLevelConfiguration>(
  [
    NAME_COLUMN,
    column('Type', 'string', 'Limited or Exempt.'),
    column('NominalConcurrencyShares', 'string', 'The level’s share of the server’s concurrency.'),
    column('Queues', 'string', 'How many queues the level has.'),
    column('HandSize', 'string', 'How many queues a flow is shuffle-sharded over.'),
    column('QueueLengthLimit', 'string', 'How many requests one queue may hold.'),
    AGE_COLUMN,
  ],
  (pl, ctx) => {
    let cells: TableCell[] = ['<none>', '<none>', '<none>', '<none>'];
    const limited = pl.spec?.limited;
    if (limited) {
      cells = [limited.nominalConcurrencyShares ?? 30, '<none>', '<none>', '<none>']; // shares default to 30
      const q = limited.limitResponse?.queuing;
      if (q) cells = [cells[0]!, q.queues ?? 64, q.handSize ?? 8, q.queueLengthLimit ?? 50]; // upstream's defaults
    }
    return [pl.metadata?.name ?? '', pl.spec?.type ?? '', ...cells, ageSince(pl.metadata?.creationTimestamp, ctx.now)];
  },
);
