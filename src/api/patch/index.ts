// The patch module: the three PATCH flavours, server-side apply and field ownership, as pure
// functions over JSON objects. The API server picks the flavour from the Content-Type.
export { PatchError, UNPROCESSABLE_MESSAGE, type PatchErrorCode } from './errors.js';
export type { JsonObject, JsonPrimitive, JsonValue } from './json.js';
export { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS } from './jsonPatch.js';
export { applyMergePatch } from './mergePatch.js';
export { strategicMergePatch } from './strategicMerge.js';
export { FieldSet, pathString, type FieldPath, type PathElement } from './fieldSet.js';
export {
  applyConflictError,
  conflictCauses,
  conflictMessage,
  fieldSet,
  fromFieldsV1,
  MAX_UPDATE_MANAGERS,
  serverSideApply,
  toFieldsV1,
  updateManagedFields,
  type ApplyConflict,
  type ApplyOptions,
  type ApplyResult,
  type ManagedFieldsEntry,
  type ManagedFieldsOperation,
  type UpdateManagedFieldsOptions,
} from './apply.js';
