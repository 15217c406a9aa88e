// Tables for custom resources: NAME plus the CRD version's additionalPrinterColumns (or AGE when it has
// none), each cell found by JSONPath and typed by the column's type, as apiextensions-apiserver does it.
import type { CustomResourceColumnDefinition } from 'kubernetes-types/apiextensions/v1.js';
import { humanDuration, parseTime } from './humanDuration.js';
import { compileJsonPath, JsonPathError, type JsonPath } from './jsonPath.js';
import { CREATED_DESCRIPTION, NAME_COLUMN, type PrintContext, type Printer } from './printer.js';
import type { TableCell, TableColumnDefinition } from './types.js';

/** What a CRD version without printer columns is served with. */
export const DEFAULT_CUSTOM_RESOURCE_COLUMNS: readonly CustomResourceColumnDefinition[] = [
  { name: 'Age', type: 'date', description: CREATED_DESCRIPTION, jsonPath: '.metadata.creationTimestamp' },
];

export interface CompiledCustomResourceColumns {
  printer: Printer<Record<string, unknown>>;
  /**
   * Set when a column's JSONPath does not parse. Upstream then serves the columns before the bad one
   * and drops it and all after it; so does this printer.
   */
  invalid?: { column: string; jsonPath: string; message: string };
}

/** Go's %v of a float64: shortest digits, in exponent form (`1.5e+06`, `1e-05`) below 1e-4 or from 1e6 on. */
export function goFormatFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const [mantissa = '', expText = '0'] = x.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(x); // JS writes plain decimals with the same shortest digits in this range
}

/** encoding/json's output for a decoded JSON value: object keys sorted, <, > and & escaped. */
export function goJsonMarshal(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(goJsonMarshal).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${goJsonMarshal(k)}:${goJsonMarshal(o[k])}`)
      .join(',')}}`;
  }
  if (typeof v === 'string') {
    return JSON.stringify(v)
      .replace(/</g, '\\u003c')
      .replace(/>/g, '\\u003e')
      .replace(/&/g, '\\u0026')
      .replace(/\u2028/g, '\\u2028')
      .replace(/\u2029/g, '\\u2029');
  }
  return JSON.stringify(v);
}

/** What a `string` column shows for a found value: text as is, numbers as Go prints them, objects as JSON. */
function stringCell(value: unknown): string {
  if (value === null || value === undefined) return '<no value>';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : goFormatFloat(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return goJsonMarshal(value);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** A found value in a column of the given type; null when the value does not fit the type. */
export function typedCell(type: string, value: unknown, now: Date): TableCell {
  if (type === 'string') return stringCell(value);
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'integer':
      return typeof value === 'number' ? Math.trunc(value) : null;
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    case 'date': {
      if (typeof value !== 'string') return null;
      if (value === '' || value === 'null') return '<unknown>';
      const t = RFC3339.test(value) ? parseTime(value) : undefined;
      if (t === undefined) return value.startsWith('0001-01-01T00:00:00') ? '<unknown>' : '<invalid>';
      return humanDuration(now.getTime() - t);
    }
    default:
      return null;
  }
}

/**
 * Compiles a CRD version's printer columns once; the printer renders custom resources (plain JSON objects).
 * An empty list means the default AGE column.
 */
export function compileCustomResourceColumns(columns: readonly CustomResourceColumnDefinition[] | undefined): CompiledCustomResourceColumns {
  const wanted = columns && columns.length > 0 ? columns : DEFAULT_CUSTOM_RESOURCE_COLUMNS;
  const defs: TableColumnDefinition[] = [NAME_COLUMN];
  const paths: Array<{ path: JsonPath; type: string }> = [];
  let invalid: CompiledCustomResourceColumns['invalid'];
  for (const col of wanted) {
    let path: JsonPath;
    try {
      path = compileJsonPath(col.jsonPath);
    } catch (e) {
      if (!(e instanceof JsonPathError)) throw e;
      invalid = { column: col.name, jsonPath: col.jsonPath, message: e.message };
      break;
    }
    paths.push({ path, type: col.type });
    defs.push({
      name: col.name,
      type: col.type,
      format: col.format ?? '',
      description: col.description || `Custom resource column, read by the JSONPath ${col.jsonPath}`,
      priority: col.priority ?? 0,
    });
  }
  const print = (obj: Readonly<Record<string, unknown>>, ctx: PrintContext): TableCell[] => {
    const meta = (obj.metadata ?? {}) as { name?: string };
    const cells: TableCell[] = [meta.name ?? ''];
    for (const { path, type } of paths) {
      let found: unknown[];
      try {
        found = path.find(obj);
      } catch (e) {
        if (!(e instanceof JsonPathError)) throw e;
        found = [];
      }
      cells.push(found.length === 0 ? null : typedCell(type, found[0], ctx.now));
    }
    return cells;
  };
  return invalid ? { printer: { columns: defs, print }, invalid } : { printer: { columns: defs, print } };
}
