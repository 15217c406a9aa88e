// The /openapi/v2 document in protobuf, encoded once per document version.
import type { ResourceType } from '../../catalog.js';
import { openapiV2Json } from '../index.js';
import { encodeOpenAPIV2Protobuf } from './encodeV2.js';

/** The encoded document with the ETag of the JSON document it encodes. */
export interface CachedProtobufDocument {
  readonly body: Buffer;
  /**
   * The JSON document's ETag. Upstream serves both forms under one ETag and sends `Vary: Accept`,
   * so a cached JSON copy is never taken for the protobuf one; do the same.
   */
  readonly etag: string;
}

/** Encoded documents by JSON ETag; a few kept, as the JSON documents are (one per resource list). */
const encoded = new Map<string, CachedProtobufDocument>();
const MAX_ENCODED = 4;

/**
 * openapiV2(resources) as gnostic's `openapi.v2.Document` protobuf message, for /openapi/v2 asked
 * for with a protobuf Accept and for /swagger-2.0.0.pb-v1. Encoded on first call for a document
 * version (0.2–0.3 s cold, 1.2 MB for the built-in resources; worth warming at start-up) and cached
 * by its ETag, so a custom resource schema change yields a fresh encoding. Shared: do not mutate `body`.
 */
export function openapiV2Protobuf(resources: readonly ResourceType[]): CachedProtobufDocument {
  const { doc, etag } = openapiV2Json(resources);
  const hit = encoded.get(etag);
  if (hit) return hit;
  const entry: CachedProtobufDocument = { body: encodeOpenAPIV2Protobuf(doc), etag };
  encoded.set(etag, entry);
  while (encoded.size > MAX_ENCODED) encoded.delete(encoded.keys().next().value!);
  return entry;
}
