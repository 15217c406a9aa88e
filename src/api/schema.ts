// What patching, server-side apply and field validation need to know about an object's schema,
// as one small interface. The OpenAPI module implements it for built-in kinds (and CRDs);
// the patch module only reads it.

/** Upstream's x-kubernetes-* list and patch metadata of one field. */
export interface FieldMeta {
  /** x-kubernetes-patch-merge-key: the key that identifies list items in a strategic merge. */
  patchMergeKey?: string;
  /** x-kubernetes-patch-strategy, split on ",": "merge", "retainKeys", "replace". */
  patchStrategy?: readonly string[];
  /** x-kubernetes-list-type: how server-side apply treats a list. */
  listType?: 'atomic' | 'set' | 'map';
  /** x-kubernetes-list-map-keys, for listType "map". */
  listMapKeys?: readonly string[];
  /** x-kubernetes-map-type for objects: "atomic" objects are owned and replaced whole. */
  mapType?: 'atomic' | 'granular';
}

/**
 * A node of a schema tree. For an object node, `field(name)` gives the node of a property
 * (undefined for unknown fields, unless `preservesUnknownFields`); for a map node (additionalProperties)
 * every key gives `values()`; for a list node, `items()` gives the item node.
 */
export interface SchemaNode {
  readonly kind: 'object' | 'map' | 'list' | 'scalar' | 'any';
  /** Metadata of the field this node was reached through (empty at the root). */
  readonly meta: FieldMeta;
  /** The scalar type for scalar nodes: "string", "integer", "number", "boolean"; IntOrString is "int-or-string". */
  readonly scalarType?: string;
  /** x-kubernetes-preserve-unknown-fields or an untyped object: anything goes below. */
  readonly preservesUnknownFields?: boolean;
  /** The field's default value (OpenAPI `default`), used to match list-map keys the client left out. */
  readonly default?: unknown;
  field(name: string): SchemaNode | undefined;
  values(): SchemaNode | undefined;
  items(): SchemaNode | undefined;
}
