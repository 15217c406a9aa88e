// Small hand-made SchemaNode trees with Pod/Deployment shapes and the list/patch metadata of the
// real types (containers merged by name, ports by containerPort+protocol, finalizers a set, …).
import type { FieldMeta, SchemaNode } from '../../../src/api/schema.js';

interface NodeSpec {
  kind: SchemaNode['kind'];
  meta?: FieldMeta;
  scalarType?: string;
  fields?: Record<string, SchemaNode>;
  values?: SchemaNode;
  items?: SchemaNode;
  preserve?: boolean;
  default?: unknown;
}

function node(spec: NodeSpec): SchemaNode {
  const n: SchemaNode & { default?: unknown } = {
    kind: spec.kind,
    meta: spec.meta ?? {},
    field: (name) => (spec.fields && Object.hasOwn(spec.fields, name) ? spec.fields[name] : spec.preserve ? any : undefined),
    values: () => spec.values,
    items: () => spec.items,
  };
  if (spec.scalarType) (n as { scalarType?: string }).scalarType = spec.scalarType;
  if (spec.preserve) (n as { preservesUnknownFields?: boolean }).preservesUnknownFields = true;
  if (spec.default !== undefined) n.default = spec.default;
  return n;
}

export const any: SchemaNode = node({ kind: 'any' });
export const str = node({ kind: 'scalar', scalarType: 'string' });
export const int = node({ kind: 'scalar', scalarType: 'integer' });
export const bool = node({ kind: 'scalar', scalarType: 'boolean' });
export const intOrString = node({ kind: 'scalar', scalarType: 'int-or-string' });

/** A scalar whose OpenAPI default is `value` (list-map keys such as a port's protocol). */
export const withDefault = (type: string, value: unknown): SchemaNode => node({ kind: 'scalar', scalarType: type, default: value });

/** A struct; `meta` is what the field holding it declares (mapType, patchStrategy). */
export const obj = (fields: Record<string, SchemaNode>, meta?: FieldMeta, preserve = false): SchemaNode =>
  node({ kind: 'object', fields, meta, preserve });

/** A map (additionalProperties). */
export const mapOf = (values: SchemaNode, meta?: FieldMeta): SchemaNode => node({ kind: 'map', values, meta });

/** A list with no strategy: replaced by patches, atomic for apply. */
export const atomicList = (items: SchemaNode): SchemaNode => node({ kind: 'list', items, meta: { listType: 'atomic' } });

/** A list with patchStrategy merge and a merge key; a list-map for apply. */
export const mergeList = (items: SchemaNode, mergeKey: string, mapKeys: string[] = [mergeKey], extra: string[] = []): SchemaNode =>
  node({
    kind: 'list',
    items,
    meta: { patchStrategy: ['merge', ...extra], patchMergeKey: mergeKey, listType: 'map', listMapKeys: mapKeys },
  });

/** A list of scalars with patchStrategy merge; a set for apply. */
export const setList = (items: SchemaNode): SchemaNode => node({ kind: 'list', items, meta: { patchStrategy: ['merge'], listType: 'set' } });

/** A list with patchStrategy merge but no list-type annotations (the strategy alone decides). */
export const legacyMergeList = (items: SchemaNode, mergeKey: string): SchemaNode =>
  node({ kind: 'list', items, meta: { patchStrategy: ['merge'], patchMergeKey: mergeKey } });

const ownerReference = obj({ apiVersion: str, kind: str, name: str, uid: str, controller: bool });

export const objectMeta = obj({
  name: str,
  namespace: str,
  uid: str,
  resourceVersion: str,
  generation: int,
  creationTimestamp: str,
  labels: mapOf(str),
  annotations: mapOf(str),
  finalizers: setList(str),
  ownerReferences: mergeList(ownerReference, 'uid'),
  managedFields: atomicList(any),
});

const envVar = obj({ name: str, value: str, valueFrom: obj({ fieldRef: obj({ fieldPath: str }, { mapType: 'atomic' }) }) });
const containerPort = obj({ name: str, containerPort: int, protocol: withDefault('string', 'TCP'), hostPort: int });
const volumeMount = obj({ name: str, mountPath: str, readOnly: bool });
const resources = obj({ limits: mapOf(str), requests: mapOf(str) });

export const container = obj({
  name: str,
  image: str,
  command: atomicList(str),
  args: atomicList(str),
  ports: mergeList(containerPort, 'containerPort', ['containerPort', 'protocol']),
  env: mergeList(envVar, 'name'),
  volumeMounts: mergeList(volumeMount, 'mountPath'),
  resources,
  imagePullPolicy: str,
});

const toleration = obj({ key: str, operator: str, value: str, effect: str, tolerationSeconds: int });

const volume = obj({
  name: str,
  emptyDir: obj({ medium: str, sizeLimit: str }),
  configMap: obj({ name: str, defaultMode: int }),
  secret: obj({ secretName: str }),
});

export const podSpec = obj({
  containers: mergeList(container, 'name'),
  initContainers: mergeList(container, 'name'),
  volumes: mergeList(volume, 'name', ['name'], ['retainKeys']),
  tolerations: atomicList(toleration),
  nodeSelector: mapOf(str, { mapType: 'atomic' }),
  restartPolicy: str,
  serviceAccountName: str,
  terminationGracePeriodSeconds: int,
});

const podCondition = obj({ type: str, status: str, reason: str });

export const pod = obj({
  apiVersion: str,
  kind: str,
  metadata: objectMeta,
  spec: podSpec,
  status: obj({ phase: str, conditions: mergeList(podCondition, 'type') }),
});

export const deployment = obj({
  apiVersion: str,
  kind: str,
  metadata: objectMeta,
  spec: obj({
    replicas: int,
    paused: bool,
    minReadySeconds: int,
    selector: obj({ matchLabels: mapOf(str) }, { mapType: 'atomic' }),
    strategy: obj({ type: str, rollingUpdate: obj({ maxSurge: intOrString, maxUnavailable: intOrString }) }, { patchStrategy: ['retainKeys'] }),
    template: obj({ metadata: objectMeta, spec: podSpec }),
  }),
  status: obj({ replicas: int, readyReplicas: int }),
});

/** A custom resource whose spec keeps unknown fields. */
export const widget = obj({ apiVersion: str, kind: str, metadata: objectMeta, spec: obj({ size: int }, undefined, true) });
