// The meta.k8s.io Table wire shapes the API server answers with when a client asks for
// `application/json;as=Table;v=v1;g=meta.k8s.io` (kubectl get does, always).
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

/** Table is served in meta.k8s.io/v1; v1beta1 is the older spelling of the same shape. */
export type TableApiVersion = 'meta.k8s.io/v1' | 'meta.k8s.io/v1beta1';

/** OpenAPI-ish type of a column: kubectl uses it only to align and to format dates. */
export type ColumnType = 'string' | 'integer' | 'number' | 'boolean' | 'date';

export interface TableColumnDefinition {
  name: string;
  type: ColumnType | string;
  /** `name` marks the column holding the object's name; otherwise usually ''. */
  format: string;
  description: string;
  /** 0 = always shown; >0 = shown by kubectl only with `-o wide`. The server always sends every column. */
  priority: number;
}

/** What one cell may hold on the wire. `null` only comes from custom-resource columns whose path found nothing. */
export type TableCell = string | number | boolean | null;

export interface TableRowCondition {
  /** The only type upstream defines: a row for something that ran to completion. */
  type: 'Completed';
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

export interface PartialObjectMetadata {
  kind: 'PartialObjectMetadata';
  apiVersion: TableApiVersion;
  metadata: ObjectMeta;
}

export interface TableRow {
  cells: TableCell[];
  conditions?: TableRowCondition[];
  /** Absent for includeObject=None; the metadata for Metadata (the default); the object itself for Object. */
  object?: PartialObjectMetadata | object;
}

export interface TableListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface Table {
  kind: 'Table';
  apiVersion: TableApiVersion;
  metadata: TableListMeta;
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

/** `includeObject` of metav1.TableOptions. */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface TableOptions {
  /** The server's clock at request time: every AGE-like cell is computed against it. */
  now: Date;
  /**
   * Upstream's server always renders the wide form (all columns, with their priorities) and lets kubectl
   * hide priority>0 columns. Default true; false drops those columns and their cells.
   */
  wide?: boolean;
  /** Default 'Metadata' (rows carry PartialObjectMetadata, which kubectl needs for `-o name` and namespaces). */
  includeObject?: IncludeObject;
  /** metav1.TableOptions.noHeaders: rows only (used for later pages of a chunked list). */
  noHeaders?: boolean;
  /** The Table version the client accepted; the PartialObjectMetadata rows carry the same. Default v1. */
  apiVersion?: TableApiVersion;
}
