// RFC 7386 JSON merge patch (application/merge-patch+json): objects merge member by member,
// null deletes, anything else (lists included) replaces.
import { badRequest, invalidPatchResult } from './errors.js';
import { clone, has, isJsonObject, type JsonObject, type JsonValue } from './json.js';

/**
 * Applies a JSON merge patch to a copy of `doc`.
 *
 * Errors: a patch that is `null` or a scalar → BadRequest `Invalid JSON Patch` (upstream's words);
 * a list as the whole patch → Invalid, since the result would not be an object.
 * Nulls inside values that are added are dropped, as upstream's library does; nulls inside lists stay.
 */
export function applyMergePatch(doc: JsonObject, patch: unknown): JsonObject {
  if (Array.isArray(patch)) {
    const result = pruneNulls(clone(patch as JsonValue[]));
    throw invalidPatchResult(JSON.stringify(result), 'json: cannot unmarshal array into Go value of type map[string]interface {}');
  }
  if (!isJsonObject(patch)) throw badRequest('Invalid JSON Patch');
  return mergeObjects(clone(doc), patch);
}

function mergeObjects(target: JsonObject, patch: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[key];
      continue;
    }
    const current = has(target, key) ? target[key] : undefined;
    if (isJsonObject(current) && isJsonObject(value)) {
      target[key] = mergeObjects(current, value);
    } else {
      target[key] = pruneNulls(clone(value));
    }
  }
  return target;
}

/** Drops null members of objects, at any depth; list items stay as they are (but are pruned inside). */
function pruneNulls<T extends JsonValue>(v: T): T {
  if (Array.isArray(v)) {
    v.forEach((item) => pruneNulls(item));
  } else if (isJsonObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (x === null) delete v[k];
      else pruneNulls(x);
    }
  }
  return v;
}
