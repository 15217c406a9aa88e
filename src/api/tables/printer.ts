// The shape every kind's printer has (its columns and one row per object) and the column helpers and
// descriptions they share. Descriptions are ours; names, types, formats and priorities are upstream's.
import type { ColumnType, TableCell, TableColumnDefinition, TableRowCondition } from './types.js';

export interface PrintContext {
  /** Request time; ages are computed against it. */
  readonly now: Date;
}

export interface PrintedRow {
  cells: TableCell[];
  conditions?: TableRowCondition[];
}

/**
 * Columns plus a row function. `print` returns one cell per column, wide cells included (the server always
 * renders the wide form). Objects are read-only and assumed defaulted, as upstream's are after decoding.
 */
export interface Printer<T = any> {
  readonly columns: readonly TableColumnDefinition[];
  print(obj: Readonly<T>, ctx: PrintContext): TableCell[] | PrintedRow;
  /** Reorders a list before printing, for the few kinds whose list printer sorts (flowschemas). */
  order?(items: ReadonlyArray<Readonly<T>>): ReadonlyArray<Readonly<T>>;
}

interface ColumnExtras {
  priority?: number;
  format?: string;
}

export function column(name: string, type: ColumnType, description: string, extras: ColumnExtras = {}): TableColumnDefinition {
  return { name, type, format: extras.format ?? '', description, priority: extras.priority ?? 0 };
}

/** A priority-1 column: kubectl shows it only with `-o wide`. */
export function wide(name: string, type: ColumnType, description: string): TableColumnDefinition {
  return column(name, type, description, { priority: 1 });
}

export const NAME_DESCRIPTION =
  'The name of the object, unique among objects of its kind in its namespace (or cluster-wide when not namespaced). It cannot be changed.';
export const CREATED_DESCRIPTION =
  'When the server created the object, in UTC (RFC 3339). Clients may not set it; it is empty for lists.';

export const NAME_COLUMN = column('Name', 'string', NAME_DESCRIPTION, { format: 'name' });
export const AGE_COLUMN = column('Age', 'string', CREATED_DESCRIPTION);
export const CONTAINERS_COLUMN = wide('Containers', 'string', 'The names of the containers in the pod template.');
export const IMAGES_COLUMN = wide('Images', 'string', 'The images the containers of the pod template run.');
export const SELECTOR_COLUMN = wide('Selector', 'string', 'The label query the pods this object manages must match.');

/** `printer` with the row function's type checked against T. */
export function printer<T>(columns: readonly TableColumnDefinition[], print: Printer<T>['print'], order?: Printer<T>['order']): Printer<T> {
  return order ? { columns, print, order } : { columns, print };
}
