// RFC 6902 JSON patch (application/json-patch+json) as the API server applies it: fast-json-patch
// does the work on a copy; the few places where upstream's library (evanphx/json-patch v4)
// behaves differently from the RFC are reproduced before each operation.
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { PatchError, badRequest, invalidPatchResult, unprocessable } from './errors.js';
import { clone, isJsonObject, jsonKind, type JsonObject, type JsonValue } from './json.js';

const { applyOperation, JsonPatchError } = fastJsonPatch;

/** Upstream's cap on operations in one JSON patch (maxJSONPatchOperations). */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/**
 * Applies an RFC 6902 patch to a copy of `doc` and returns the patched object.
 *
 * Errors (all `PatchError`):
 * - `ops` not a list of objects → BadRequest (upstream fails to decode the patch);
 * - more than 10,000 operations → RequestEntityTooLarge;
 * - an operation that cannot be applied, including a failed `test` → UnprocessableEntity, whose
 *   wire message is upstream's generic one; the library's reason is in `detail`;
 * - a result that is not an object → Invalid.
 *
 * Upstream quirks kept on purpose: `replace` of a missing object member adds it; negative array
 * indices count from the end; a `test` for `null` passes when the member is missing; `null` as
 * the whole patch is an empty patch. Operations on the root (`""`) other than `replace`/`test` fail.
 */
export function applyJsonPatch(doc: JsonObject, ops: unknown): JsonObject {
  const list = decodeOperations(ops);
  let work: JsonValue = clone(doc);
  list.forEach((raw, index) => {
    work = applyOne(work, raw, index);
  });
  if (!isJsonObject(work)) {
    throw invalidPatchResult(JSON.stringify(work), `json: cannot unmarshal ${goKindWord(work)} into Go value of type map[string]interface {}`);
  }
  return work;
}

function decodeOperations(ops: unknown): JsonObject[] {
  if (ops === null || ops === undefined) return [];
  if (!Array.isArray(ops)) {
    throw badRequest(`json: cannot unmarshal ${goKindWord(ops as JsonValue)} into Go value of type jsonpatch.Patch`);
  }
  if (ops.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new PatchError(
      'RequestEntityTooLarge',
      `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${ops.length}`,
    );
  }
  return ops.map((op: unknown) => {
    if (op !== null && !isJsonObject(op)) {
      throw badRequest(`json: cannot unmarshal ${goKindWord(op as JsonValue)} into Go value of type jsonpatch.Operation`);
    }
    return op ?? {};
  });
}

function goKindWord(v: JsonValue): string {
  const k = jsonKind(v);
  return k === 'boolean' ? 'bool' : k;
}

function applyOne(doc: JsonValue, raw: JsonObject, index: number): JsonValue {
  const op = typeof raw['op'] === 'string' ? raw['op'] : 'unknown';
  if (!OPS.has(op)) throw unprocessable(`Unexpected kind: ${op}`);
  const path = raw['path'];
  if (typeof path !== 'string') throw unprocessable(`${op} operation failed to decode path: missing value`);
  if (path === '' && op !== 'replace' && op !== 'test') {
    throw unprocessable(`${op} operation does not apply: doc is missing path: "": missing value`);
  }
  if (path === '' && op === 'replace' && !(isJsonObject(raw['value']) || Array.isArray(raw['value']))) {
    throw unprocessable('replace operation value must be object or array');
  }

  // A copy, so that values inserted into the document are not shared with the caller's patch.
  const operation = { ...clone(raw), op, path: withNegativeIndices(doc, path, op === 'add') } as unknown as Operation;
  if ((op === 'move' || op === 'copy') && typeof raw['from'] === 'string') {
    (operation as { from: string }).from = withNegativeIndices(doc, raw['from'], false);
  }
  if (op === 'replace' && isMissingObjectMember(doc, operation.path)) operation.op = 'add';
  if (op === 'test' && raw['value'] === null && isMissingObjectMember(doc, operation.path)) return doc;

  try {
    return applyOperation(doc, operation, true, true, true, index).newDocument as JsonValue;
  } catch (e) {
    if (e instanceof JsonPatchError) throw unprocessable(describe(e.name, op, path, raw['from']));
    if (e instanceof TypeError) throw unprocessable(e.message);
    throw e;
  }
}

/** Upstream's (v4) wording for each way an operation fails. */
function describe(name: string, op: string, path: string, from: JsonValue | undefined): string {
  switch (name) {
    case 'TEST_OPERATION_FAILED':
      return `testing value ${path} failed: test failed`;
    case 'OPERATION_PATH_UNRESOLVABLE':
    case 'OPERATION_PATH_CANNOT_ADD':
      if (op === 'test') return `test operation does not apply: is missing path: ${path}: missing value`;
      if (op === 'add' || op === 'remove') return `${op} operation does not apply: doc is missing path: "${path}": missing value`;
      return `${op} operation does not apply: doc is missing path: ${path}: missing value`;
    case 'OPERATION_FROM_UNRESOLVABLE':
      return `${op} operation does not apply: doc is missing from path: ${String(from)}: missing value`;
    case 'OPERATION_FROM_REQUIRED':
      return `${op} operation failed to decode from: operation, missing from field: missing value`;
    case 'OPERATION_VALUE_REQUIRED':
    case 'OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED':
      return `${op} operation, missing value field: missing value`;
    case 'OPERATION_PATH_ILLEGAL_ARRAY_INDEX':
    case 'OPERATION_VALUE_OUT_OF_BOUNDS':
      return `error in ${op} for path: '${path}': Unable to access invalid index: ${path.slice(path.lastIndexOf('/') + 1)}: invalid index referenced`;
    case 'OPERATION_PATH_INVALID':
      return `${op} operation failed to decode path: ${path}`;
    default:
      return `${op} operation failed at ${path}: ${name}`;
  }
}

function unescapeToken(t: string): string {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * Rewrites `-n` array indices into positive ones against the document as it is before the
 * operation (upstream's SupportNegativeIndices). For `add`, `-1` on the last token means the end.
 * Indices out of range are left as they are, for the library to reject.
 */
function withNegativeIndices(doc: JsonValue, path: string, isAdd: boolean): string {
  if (!/\/-\d+(\/|$)/.test(path)) return path;
  const tokens = path.split('/').slice(1);
  let node: JsonValue | undefined = doc;
  const out = tokens.map((token, i) => {
    const last = i === tokens.length - 1;
    let resolved = token;
    if (Array.isArray(node) && /^-\d+$/.test(token)) {
      const n = Number(token) + node.length + (isAdd && last ? 1 : 0);
      if (n >= 0) resolved = String(n);
    }
    node = Array.isArray(node) ? node[Number(resolved)] : isJsonObject(node) ? own(node, unescapeToken(resolved)) : undefined;
    return resolved;
  });
  return `/${out.join('/')}`;
}

function own(obj: JsonObject, key: string): JsonValue | undefined {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/** True when the path's parent is an object that lacks the last member. */
function isMissingObjectMember(doc: JsonValue, path: string): boolean {
  if (path === '') return false;
  const tokens = path.split('/').slice(1).map(unescapeToken);
  let node: JsonValue | undefined = doc;
  for (const t of tokens.slice(0, -1)) {
    node = Array.isArray(node) ? node[Number(t)] : isJsonObject(node) ? own(node, t) : undefined;
    if (node === undefined) return false;
  }
  return isJsonObject(node) && own(node, tokens[tokens.length - 1] ?? '') === undefined;
}
