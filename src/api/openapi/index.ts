// OpenAPI for k8ts: the /openapi/v2 and /openapi/v3 documents kubectl reads (explain, validation,
// apply), and the schema trees patching, server-side apply and field validation walk. Schemas come
// from kubernetes-models (built into dist/openapi/definitions.json by build.ts) plus upstream's
// x-kubernetes-* facts, and from CRDs added at run time.
import type { ResourceType } from '../catalog.js';
import { openapiV2Document, openapiV3Document, openapiV3Index, type CachedDocument } from './documents.js';

export { schemaFor, unknownFields } from './schemaTree.js';
export { addCustomResourceSchema, removeCustomResourceSchema, customResourceDefinitionName } from './customResources.js';
export { OPENAPI_INFO_VERSION, definitionNameFor, type CachedDocument } from './documents.js';
export type { JsonSchema } from './factTypes.js';

/**
 * The Swagger 2.0 document served at /openapi/v2 for these resources. Built on first call
 * (about 0.1 s) and cached per resource list (by content, so a fresh array with the same
 * resources hits the cache) until a custom resource schema is added or removed. Shared: do not mutate.
 */
export function openapiV2(resources: readonly ResourceType[]): object {
  return openapiV2Document(resources).doc;
}

/** openapiV2's document serialized, with its ETag: send `json` as is. */
export function openapiV2Json(resources: readonly ResourceType[]): CachedDocument {
  return openapiV2Document(resources);
}

/** The /openapi/v3 index: `{ paths: { "apis/apps/v1": { serverRelativeURL: "/openapi/v3/apis/apps/v1?hash=…" } } }`. */
export function openapiV3Discovery(resources: readonly ResourceType[]): { paths: Record<string, { serverRelativeURL: string }> } {
  return openapiV3Index(resources);
}

/**
 * The OpenAPI 3.0 document of one path of the index ("api/v1", "apis/apps/v1", "apis/apps",
 * "api", "apis", "version"; leading/trailing slashes ignored), or undefined when not served.
 * Cached like openapiV2; do not mutate.
 */
export function openapiV3(groupVersionPath: string, resources: readonly ResourceType[]): object | undefined {
  return openapiV3Document(groupVersionPath, resources)?.doc;
}

/** openapiV3's document serialized, with the ETag the index's `hash` refers to. */
export function openapiV3Json(groupVersionPath: string, resources: readonly ResourceType[]): CachedDocument | undefined {
  return openapiV3Document(groupVersionPath, resources);
}
