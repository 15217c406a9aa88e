// The shape of schema.generated.ts: Kubernetes' protobuf messages as compact facts.

/** Scalar field types that occur in Kubernetes' generated.proto files. */
export type ProtobufScalar = 'string' | 'bool' | 'int32' | 'int64' | 'bytes' | 'double';

/** Bits of a field's flags. */
export const FIELD_REPEATED = 1;
/** `map<string, type>`; the key is always a string. */
export const FIELD_MAP = 2;
/** Go `omitempty` on a non-pointer scalar: a zero value ('', 0, false, empty bytes) is left out of the JSON. */
export const FIELD_OMIT_ZERO = 4;
/** Go `json:",inline"`: the message's fields are written into the parent object. */
export const FIELD_INLINE = 8;

/**
 * One field: [field number, JSON name, type, flags?]. The type is a scalar name or a message's short name
 * (`core.v1.PodSpec`, `meta.v1.ObjectMeta`); scalars never contain a dot.
 */
export type ProtobufField = readonly [number: number, jsonName: string, type: string, flags?: number];

export interface ProtobufPackage {
  /** '' for the core group, `meta.k8s.io` for meta/v1. */
  group: string;
  version: string;
  /** Messages that are API kinds (their Go type inlines TypeMeta), Lists and option types included. */
  kinds: readonly string[];
}
