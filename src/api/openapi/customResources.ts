// Schemas of custom resources, added at run time from a CRD version's openAPIV3Schema. They join the
// built-in definitions in the served documents, schemaFor and unknownFields.
import type { JsonSchema } from './factTypes.js';
import { V2_REF_PREFIX, gvkKey, type GroupVersionKind } from './definitions.js';

export interface CustomResourceSchema extends GroupVersionKind {
  plural: string;
  namespaced: boolean;
  /** Definition names, upstream style: group labels reversed (`com.example.stable.v1.CronTab`). */
  name: string;
  listName: string;
  /** The object's definition (apiVersion/kind/metadata added, GVK extension set). */
  definition: JsonSchema;
  listDefinition: JsonSchema;
}

const registry = new Map<string, CustomResourceSchema>();
let generation = 0;

/** Changes whenever a custom resource schema is added or removed; caches key on it. */
export function customResourceGeneration(): number {
  return generation;
}

export function customResourceSchemas(): readonly CustomResourceSchema[] {
  return [...registry.values()];
}

export function customResourceSchema(gvk: GroupVersionKind): CustomResourceSchema | undefined {
  return registry.get(gvkKey(gvk));
}

/** `stable.example.com` + v1 + CronTab → `com.example.stable.v1.CronTab`, as upstream names CRD definitions. */
export function customResourceDefinitionName(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

const TYPE_META_DOC = {
  apiVersion: 'APIVersion defines the versioned schema of this representation of an object.',
  kind: 'Kind is a string value representing the REST resource this object represents.',
  metadata: "Standard object's metadata.",
  listMetadata: 'Standard list metadata.',
};

function isSchemaObject(v: unknown): v is JsonSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Registers (or replaces) the schema of one served version of a custom resource. `openAPIV3Schema`
 * is the CRD's structural schema; absent, the objects accept any fields.
 */
export function addCustomResourceSchema(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  openAPIV3Schema: unknown,
): void {
  const name = customResourceDefinitionName(group, version, kind);
  const listName = `${name}List`;
  const source: JsonSchema = isSchemaObject(openAPIV3Schema)
    ? (structuredClone(openAPIV3Schema) as JsonSchema)
    : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const properties: Record<string, JsonSchema> = {
    apiVersion: { description: TYPE_META_DOC.apiVersion, type: 'string' },
    kind: { description: TYPE_META_DOC.kind, type: 'string' },
    metadata: { $ref: `${V2_REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`, description: TYPE_META_DOC.metadata },
    ...(source.properties ?? {}),
  };
  // metadata's shape is always ObjectMeta, whatever the CRD says (upstream ignores its schema below metadata).
  properties['metadata'] = { $ref: `${V2_REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`, description: TYPE_META_DOC.metadata };
  const definition: JsonSchema = {
    ...source,
    type: 'object',
    properties,
    'x-kubernetes-group-version-kind': [{ group, kind, version }],
  };
  const listDefinition: JsonSchema = {
    description: `${kind}List is a list of ${kind}`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { description: TYPE_META_DOC.apiVersion, type: 'string' },
      items: { description: `List of ${plural}.`, type: 'array', items: { $ref: `${V2_REF_PREFIX}${name}` } },
      kind: { description: TYPE_META_DOC.kind, type: 'string' },
      metadata: { $ref: `${V2_REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta`, description: TYPE_META_DOC.listMetadata },
    },
    'x-kubernetes-group-version-kind': [{ group, kind: `${kind}List`, version }],
  };
  registry.set(gvkKey({ group, version, kind }), { group, version, kind, plural, namespaced, name, listName, definition, listDefinition });
  generation++;
}

/** Forgets a custom resource version's schema (the CRD or that version was removed). */
export function removeCustomResourceSchema(group: string, version: string, kind: string): void {
  if (registry.delete(gvkKey({ group, version, kind }))) generation++;
}
