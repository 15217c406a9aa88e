// Validation of custom resources against their CRD's structural OpenAPI v3 schema, with upstream's
// field paths and messages (`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`).
import { FieldError, invalidValue, notSupported, required } from './status.js';

type Schema = Record<string, any>;

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const typeMatches = (want: string, v: unknown): boolean => {
  const got = typeOf(v);
  return want === got || (want === 'number' && got === 'integer');
};

/** Errors of `value` against `schema`; `path` is the field path so far (e.g. `spec`). */
export function validateAgainstSchema(schema: Schema | undefined, value: unknown, path: string, out: FieldError[] = []): FieldError[] {
  if (!schema || typeof schema !== 'object') return out;
  if (value === null && schema.nullable === true) return out;
  if (schema['x-kubernetes-int-or-string'] === true) {
    if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
      out.push(invalidValue(path, value, `${path} in body must be of type integer,string: "${typeOf(value)}"`));
    }
    return out;
  }
  if (schema.type && !typeMatches(schema.type, value)) {
    out.push(invalidValue(path, value, `${path} in body must be of type ${schema.type}: "${typeOf(value)}"`));
    return out;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value))) {
    out.push(notSupported(path, value, schema.enum.map(String)));
  }
  if (typeof value === 'string') {
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) out.push(new FieldError('FieldValueTooLong', path, `may not be more than ${schema.maxLength} bytes`, value, true));
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) out.push(invalidValue(path, value, `${path} in body should be at least ${schema.minLength} chars long`));
    if (typeof schema.pattern === 'string') {
      try {
        if (!new RegExp(schema.pattern, 'u').test(value)) out.push(invalidValue(path, value, `${path} in body should match '${schema.pattern}'`));
      } catch {
        // an unusable pattern was refused when the CRD was created
      }
    }
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && (value < schema.minimum || (schema.exclusiveMinimum === true && value === schema.minimum))) {
      out.push(invalidValue(path, value, `${path} in body should be greater than or equal to ${schema.minimum}`));
    }
    if (typeof schema.maximum === 'number' && (value > schema.maximum || (schema.exclusiveMaximum === true && value === schema.maximum))) {
      out.push(invalidValue(path, value, `${path} in body should be less than or equal to ${schema.maximum}`));
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) out.push(new FieldError('FieldValueTooMany', path, `must have at most ${schema.maxItems} items`, value.length, true));
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) out.push(invalidValue(path, value, `${path} in body should have at least ${schema.minItems} items`));
    value.forEach((item, i) => validateAgainstSchema(schema.items, item, `${path}[${i}]`, out));
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const r of (schema.required ?? []) as string[]) if (obj[r] === undefined) out.push(required(path ? `${path}.${r}` : r));
    for (const [k, v] of Object.entries(obj)) {
      const child = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (child) validateAgainstSchema(child, v, path ? `${path}.${k}` : k, out);
    }
  }
  return out;
}

/**
 * Drops fields the schema does not declare (upstream "pruning"), except where
 * x-kubernetes-preserve-unknown-fields says to keep them. apiVersion, kind and metadata stay.
 */
export function pruneUnknown(schema: Schema | undefined, value: unknown, root = true): unknown {
  if (!schema || typeof schema !== 'object' || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => pruneUnknown(schema.items, v, false));
  const obj = value as Record<string, unknown>;
  const keep = schema['x-kubernetes-preserve-unknown-fields'] === true;
  for (const k of Object.keys(obj)) {
    if (root && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) continue;
    const child = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (child) obj[k] = pruneUnknown(child, obj[k], false);
    else if (!keep && schema.additionalProperties !== true) delete obj[k];
  }
  return obj;
}
