// Server-side printing: turns objects of one kind into the meta.k8s.io Table kubectl prints as-is.
// Columns, cells and their derivations are upstream 1.32's (pkg/printers/internalversion, the default
// table convertor, apiextensions' CRD columns, kube-aggregator's APIService table).
import type { CustomResourceColumnDefinition } from 'kubernetes-types/apiextensions/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { Event as EventV1 } from 'kubernetes-types/events/v1.js';
import { compileCustomResourceColumns } from './customResource.js';
import { parseTime } from './humanDuration.js';
import { column, CREATED_DESCRIPTION, NAME_COLUMN, printer, type PrintedRow, type Printer } from './printer.js';
import { coreEventOf } from './printers/event.js';
import { printerFor, type GroupKind } from './registry.js';
import type { PartialObjectMetadata, Table, TableApiVersion, TableCell, TableListMeta, TableOptions, TableRow } from './types.js';

export type * from './types.js';
export type { GroupKind } from './registry.js';
export { printedKinds, printerFor } from './registry.js';
export { humanDuration, ageSince } from './humanDuration.js';
export { canonicalQuantity } from '../quantity.js';
export { compileCustomResourceColumns, DEFAULT_CUSTOM_RESOURCE_COLUMNS } from './customResource.js';
export { compileJsonPath, JsonPathError } from './jsonPath.js';

interface Metadata {
  metadata?: ObjectMeta;
}

/** Go's time.Format(RFC3339) in UTC: whole seconds, `Z`. Unset prints as Go's zero time. */
function rfc3339(value: unknown): string {
  const t = parseTime(value);
  const iso = new Date(t ?? -62135596800000).toISOString();
  return `${iso.slice(0, 19)}Z`;
}

/** The table upstream serves for kinds without a printer of their own: NAME and CREATED AT (RFC 3339). */
export const defaultPrinter: Printer<Metadata> = printer<Metadata>(
  [NAME_COLUMN, column('Created At', 'date', CREATED_DESCRIPTION)],
  (obj) => [obj.metadata?.name ?? '', rfc3339(obj.metadata?.creationTimestamp)],
);

function rowObject(obj: object, opts: TableOptions, apiVersion: TableApiVersion): TableRow['object'] {
  switch (opts.includeObject ?? 'Metadata') {
    case 'None':
      return undefined;
    case 'Object':
      return obj;
    default: {
      const partial: PartialObjectMetadata = { kind: 'PartialObjectMetadata', apiVersion, metadata: (obj as Metadata).metadata ?? {} };
      return partial;
    }
  }
}

function render<T extends object>(p: Printer<T>, objects: readonly T[], opts: TableOptions, printable: (o: T) => T = (o) => o): Table {
  const apiVersion = opts.apiVersion ?? 'meta.k8s.io/v1';
  const ctx = { now: opts.now };
  // Upstream's server renders the wide form; the narrow one keeps only priority-0 columns and their cells.
  const keep = opts.wide === false ? p.columns.map((c) => c.priority === 0) : undefined;
  const ordered = p.order ? p.order(objects) : objects;
  const rows = ordered.map((obj): TableRow => {
    const printed = p.print(printable(obj as T), ctx);
    const { cells, conditions }: PrintedRow = Array.isArray(printed) ? { cells: printed } : printed;
    const row: TableRow = { cells: keep ? cells.filter((_, i) => keep[i] === true) : cells };
    if (conditions) row.conditions = conditions;
    const object = rowObject(obj, opts, apiVersion);
    if (object !== undefined) row.object = object;
    return row;
  });
  const columns = opts.noHeaders ? [] : p.columns.filter((_, i) => !keep || keep[i]).map((c) => ({ ...c }));
  return { kind: 'Table', apiVersion, metadata: {}, columnDefinitions: columns, rows };
}

/**
 * The Table for `objects` of one kind (a list's items, or a single object), rendered at `opts.now`.
 * Kinds upstream has no printer for get NAME / CREATED AT. events.k8s.io events print like core events.
 * Rows keep the input order, except flowschemas, which upstream lists in matching order.
 * The table's metadata is empty: set resourceVersion / continue with `withListMeta`.
 */
export function toTable(kind: GroupKind, objects: readonly object[], opts: TableOptions): Table {
  const p = printerFor(kind) ?? defaultPrinter;
  if (kind.group === 'events.k8s.io' && kind.kind === 'Event') {
    return render(p, objects, opts, (e) => coreEventOf(e as EventV1));
  }
  return render(p as Printer<object>, objects, opts);
}

/**
 * The Table for custom resources served by a CRD version with these additionalPrinterColumns (none: AGE).
 * Compile once per CRD version with compileCustomResourceColumns when serving many requests.
 */
export function customResourceTable(
  columns: readonly CustomResourceColumnDefinition[] | undefined,
  objects: readonly object[],
  opts: TableOptions,
): Table {
  const { printer: p } = compileCustomResourceColumns(columns);
  return render(p as Printer<object>, objects, opts);
}

/** A copy of `table` carrying the list's resourceVersion, continue token and remaining count (those given). */
export function withListMeta(table: Table, meta: TableListMeta): Table {
  const metadata: TableListMeta = { ...table.metadata };
  if (meta.resourceVersion !== undefined) metadata.resourceVersion = meta.resourceVersion;
  if (meta.continue !== undefined && meta.continue !== '') metadata.continue = meta.continue;
  if (meta.remainingItemCount !== undefined) metadata.remainingItemCount = meta.remainingItemCount;
  return { ...table, metadata };
}

/** Cells of the table's rows, for tests and debugging: `rows[i].cells`. */
export function cellsOf(table: Table): TableCell[][] {
  return table.rows.map((r) => r.cells);
}
