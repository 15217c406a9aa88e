// Shapes of the upstream facts table (upstreamFacts.ts) and of the built definitions file.

/** Upstream's x-kubernetes-* list/patch metadata of one property, in short keys to keep the table small. */
export interface FieldFacts {
  /** x-kubernetes-patch-merge-key */
  pmk?: string;
  /** x-kubernetes-patch-strategy */
  ps?: string;
  /** x-kubernetes-list-type */
  lt?: string;
  /** x-kubernetes-list-map-keys */
  lmk?: readonly string[];
  /** x-kubernetes-map-type */
  mt?: string;
}

/** What upstream knows about one definition that kubernetes-models does not carry. */
export interface DefinitionFacts {
  /** x-kubernetes-group-version-kind as [group, version, kind] triples. */
  gvk?: readonly (readonly [string, string, string])[];
  /** Definition-level x-kubernetes-map-type. */
  mt?: string;
  /** x-kubernetes-unions, as upstream declares them. */
  unions?: readonly unknown[];
  /** For definitions without properties (Quantity, IntOrString, Time…): their JSON type and format. */
  type?: string;
  format?: string;
  fields?: Readonly<Record<string, FieldFacts>>;
}

/** A Swagger 2.0 / JSON schema object as we build and serve it. */
export interface JsonSchema {
  description?: string;
  type?: string;
  format?: string;
  $ref?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  allOf?: JsonSchema[];
  [extension: `x-${string}`]: unknown;
}

/** dist/openapi/definitions.json */
export interface DefinitionsFile {
  /** Upstream Kubernetes version the facts come from. */
  kubernetesVersion: string;
  /** kubernetes-models version the schemas come from. */
  modelsVersion: string;
  /** Swagger 2.0 definitions keyed by upstream name, refs as "#/definitions/<name>". */
  definitions: Record<string, JsonSchema>;
}
