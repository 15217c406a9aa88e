// Reading plugin args (KubeSchedulerConfiguration pluginConfig[].args, as decoded JSON/YAML) at the
// boundary: each helper checks one field's type and names the field when it is wrong, so the rest
// of a plugin works on typed values.

import { ConfigError } from '../framework/types.js';
import type { FieldError } from '../../apiserver/status.js';

/** A field error as a ConfigError, with upstream's `Invalid value: …: detail` body. */
export function toConfigError(e: FieldError): ConfigError {
  return new ConfigError(e.field, e.toString().slice(e.field.length + 2));
}

/** Throws the first of `errs` (upstream aggregates them; one actionable error is enough here). */
export function throwFirst(errs: readonly FieldError[]): void {
  if (errs.length > 0) throw toConfigError(errs[0]!);
}

function typeError(field: string, value: unknown, want: string): ConfigError {
  return new ConfigError(field, `Invalid value: ${JSON.stringify(value)}: must be ${want}`);
}

export function optionalObject(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw typeError(field, value, 'an object');
  return value as Record<string, unknown>;
}

export function optionalArray(value: unknown, field: string): unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw typeError(field, value, 'a list');
  return value;
}

export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw typeError(field, value, 'a string');
  return value;
}

export function optionalInteger(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(field, value, 'an integer');
  return value;
}

export function optionalStringArray(value: unknown, field: string): string[] | undefined {
  const list = optionalArray(value, field);
  return list?.map((v, i) => optionalString(v, `${field}[${i}]`) ?? '');
}
