// Every built-in resource k8ts serves, declared once (architecture rule 3): REST routing,
// discovery, OpenAPI paths, storage keys and `kubectl api-resources` all derive from this list.
// The facts (names, short names, categories, verbs, subresources, storage keys) are upstream 1.32's.

export type Verb = 'create' | 'delete' | 'deletecollection' | 'get' | 'list' | 'patch' | 'update' | 'watch';

export interface ScaleSubresource {
  /** JSON paths as in a CRD's scale subresource. */
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath: string;
}

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  kind: string;
  /** The resource name in URLs: `pods`. */
  plural: string;
  singular: string;
  namespaced: boolean;
  verbs: readonly Verb[];
  shortNames?: readonly string[];
  categories?: readonly string[];
  /** Subresources served under /<plural>/<name>/<sub>. */
  subresources?: readonly string[];
  /** For deployments, replicasets, …: the scale subresource's paths. */
  scale?: ScaleSubresource;
  /**
   * The key segment under /registry, upstream's: `minions` for nodes, `services/specs` for services.
   * Absent for resources that are not stored (reviews, componentstatuses, bindings).
   */
  storage?: string;
  /** Another resource this one shares storage with (events.k8s.io events are core events). */
  storageOf?: { group: string; plural: string };
  /** For custom resources: what their CustomResourceDefinition version declares. */
  custom?: {
    /** The CRD's name (<plural>.<group>). */
    crd: string;
    /** spec.versions[].schema.openAPIV3Schema */
    schema?: unknown;
    /** spec.versions[].additionalPrinterColumns */
    printerColumns?: unknown[];
  };
}

export const ALL_VERBS: readonly Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const CREATE_ONLY: readonly Verb[] = ['create'];
const READ_ONLY: readonly Verb[] = ['get', 'list'];
const NO_COLLECTION: readonly Verb[] = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

const REPLICAS_SCALE: ScaleSubresource = {
  specReplicasPath: '.spec.replicas',
  statusReplicasPath: '.status.replicas',
  labelSelectorPath: '.status.selector',
};

function r(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType {
  return {
    group,
    version,
    kind,
    plural,
    singular: kind.toLowerCase(),
    namespaced,
    verbs: ALL_VERBS,
    storage: plural,
    ...extra,
  };
}

export const BUILTIN_RESOURCES: readonly ResourceType[] = [
  // core/v1
  r('', 'v1', 'Binding', 'bindings', true, { verbs: CREATE_ONLY, storage: undefined }),
  r('', 'v1', 'ComponentStatus', 'componentstatuses', false, { verbs: READ_ONLY, shortNames: ['cs'], storage: undefined }),
  r('', 'v1', 'ConfigMap', 'configmaps', true, { shortNames: ['cm'] }),
  r('', 'v1', 'Endpoints', 'endpoints', true, { shortNames: ['ep'], singular: 'endpoints', storage: 'services/endpoints' }),
  r('', 'v1', 'Event', 'events', true, { shortNames: ['ev'] }),
  r('', 'v1', 'LimitRange', 'limitranges', true, { shortNames: ['limits'] }),
  r('', 'v1', 'Namespace', 'namespaces', false, { verbs: NO_COLLECTION, shortNames: ['ns'], subresources: ['status', 'finalize'] }),
  r('', 'v1', 'Node', 'nodes', false, { shortNames: ['no'], subresources: ['status', 'proxy'], storage: 'minions' }),
  r('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true, { shortNames: ['pvc'], subresources: ['status'] }),
  r('', 'v1', 'PersistentVolume', 'persistentvolumes', false, { shortNames: ['pv'], subresources: ['status'] }),
  r('', 'v1', 'Pod', 'pods', true, {
    shortNames: ['po'],
    categories: ['all'],
    subresources: ['status', 'binding', 'eviction', 'log', 'exec', 'attach', 'portforward', 'proxy', 'ephemeralcontainers'],
  }),
  r('', 'v1', 'PodTemplate', 'podtemplates', true),
  r('', 'v1', 'ReplicationController', 'replicationcontrollers', true, {
    shortNames: ['rc'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    scale: { ...REPLICAS_SCALE, labelSelectorPath: '.status.selector' },
    storage: 'controllers',
  }),
  r('', 'v1', 'ResourceQuota', 'resourcequotas', true, { shortNames: ['quota'], subresources: ['status'] }),
  r('', 'v1', 'Secret', 'secrets', true),
  r('', 'v1', 'ServiceAccount', 'serviceaccounts', true, { shortNames: ['sa'], subresources: ['token'] }),
  r('', 'v1', 'Service', 'services', true, {
    shortNames: ['svc'],
    categories: ['all'],
    subresources: ['status', 'proxy'],
    storage: 'services/specs',
  }),

  // admissionregistration.k8s.io/v1
  r('admissionregistration.k8s.io', 'v1', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false, { categories: ['api-extensions'] }),
  r('admissionregistration.k8s.io', 'v1', 'ValidatingAdmissionPolicy', 'validatingadmissionpolicies', false, {
    categories: ['api-extensions'],
    subresources: ['status'],
  }),
  r('admissionregistration.k8s.io', 'v1', 'ValidatingAdmissionPolicyBinding', 'validatingadmissionpolicybindings', false, {
    categories: ['api-extensions'],
  }),
  r('admissionregistration.k8s.io', 'v1', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', false, {
    categories: ['api-extensions'],
  }),

  // apiextensions.k8s.io/v1
  r('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, {
    shortNames: ['crd', 'crds'],
    categories: ['api-extensions'],
    subresources: ['status'],
    storage: 'apiextensions.k8s.io/customresourcedefinitions',
  }),

  // apiregistration.k8s.io/v1
  r('apiregistration.k8s.io', 'v1', 'APIService', 'apiservices', false, {
    categories: ['api-extensions'],
    subresources: ['status'],
    storage: 'apiregistration.k8s.io/apiservices',
  }),

  // apps/v1
  r('apps', 'v1', 'ControllerRevision', 'controllerrevisions', true),
  r('apps', 'v1', 'DaemonSet', 'daemonsets', true, { shortNames: ['ds'], categories: ['all'], subresources: ['status'] }),
  r('apps', 'v1', 'Deployment', 'deployments', true, {
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    scale: REPLICAS_SCALE,
  }),
  r('apps', 'v1', 'ReplicaSet', 'replicasets', true, {
    shortNames: ['rs'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    scale: REPLICAS_SCALE,
  }),
  r('apps', 'v1', 'StatefulSet', 'statefulsets', true, {
    shortNames: ['sts'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    scale: REPLICAS_SCALE,
  }),

  // authentication.k8s.io/v1
  r('authentication.k8s.io', 'v1', 'SelfSubjectReview', 'selfsubjectreviews', false, { verbs: CREATE_ONLY, storage: undefined }),
  r('authentication.k8s.io', 'v1', 'TokenReview', 'tokenreviews', false, { verbs: CREATE_ONLY, storage: undefined }),

  // authorization.k8s.io/v1
  r('authorization.k8s.io', 'v1', 'LocalSubjectAccessReview', 'localsubjectaccessreviews', true, { verbs: CREATE_ONLY, storage: undefined }),
  r('authorization.k8s.io', 'v1', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', false, { verbs: CREATE_ONLY, storage: undefined }),
  r('authorization.k8s.io', 'v1', 'SelfSubjectRulesReview', 'selfsubjectrulesreviews', false, { verbs: CREATE_ONLY, storage: undefined }),
  r('authorization.k8s.io', 'v1', 'SubjectAccessReview', 'subjectaccessreviews', false, { verbs: CREATE_ONLY, storage: undefined }),

  // autoscaling/v2
  r('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, {
    shortNames: ['hpa'],
    categories: ['all'],
    subresources: ['status'],
  }),

  // batch/v1
  r('batch', 'v1', 'CronJob', 'cronjobs', true, { shortNames: ['cj'], categories: ['all'], subresources: ['status'] }),
  r('batch', 'v1', 'Job', 'jobs', true, { categories: ['all'], subresources: ['status'] }),

  // certificates.k8s.io/v1
  r('certificates.k8s.io', 'v1', 'CertificateSigningRequest', 'certificatesigningrequests', false, {
    shortNames: ['csr'],
    subresources: ['status', 'approval'],
  }),

  // coordination.k8s.io/v1
  r('coordination.k8s.io', 'v1', 'Lease', 'leases', true),

  // discovery.k8s.io/v1
  r('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true),

  // events.k8s.io/v1: the same objects as core events
  r('events.k8s.io', 'v1', 'Event', 'events', true, { shortNames: ['ev'], storageOf: { group: '', plural: 'events' } }),

  // flowcontrol.apiserver.k8s.io/v1
  r('flowcontrol.apiserver.k8s.io', 'v1', 'FlowSchema', 'flowschemas', false, { subresources: ['status'] }),
  r('flowcontrol.apiserver.k8s.io', 'v1', 'PriorityLevelConfiguration', 'prioritylevelconfigurations', false, {
    subresources: ['status'],
  }),

  // networking.k8s.io/v1
  r('networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses', false),
  r('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, { shortNames: ['ing'], subresources: ['status'], storage: 'ingress' }),
  r('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true, { shortNames: ['netpol'] }),

  // node.k8s.io/v1
  r('node.k8s.io', 'v1', 'RuntimeClass', 'runtimeclasses', false),

  // policy/v1
  r('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, { shortNames: ['pdb'], subresources: ['status'] }),

  // rbac.authorization.k8s.io/v1
  r('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  r('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
  r('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  r('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),

  // scheduling.k8s.io/v1
  r('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', false, { shortNames: ['pc'] }),

  // storage.k8s.io/v1
  r('storage.k8s.io', 'v1', 'CSIDriver', 'csidrivers', false),
  r('storage.k8s.io', 'v1', 'CSINode', 'csinodes', false),
  r('storage.k8s.io', 'v1', 'CSIStorageCapacity', 'csistoragecapacities', true),
  r('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses', false, { shortNames: ['sc'] }),
  r('storage.k8s.io', 'v1', 'VolumeAttachment', 'volumeattachments', false, { subresources: ['status'] }),
];

/** "apps/v1", or "v1" for the core group. */
export function groupVersion(t: { group: string; version: string }): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

/** The /registry key prefix of a resource type: `/registry/minions/`. */
export function storagePrefix(t: ResourceType): string | undefined {
  const owner = t.storageOf ? BUILTIN_RESOURCES.find((o) => o.group === t.storageOf!.group && o.plural === t.storageOf!.plural) : t;
  return owner?.storage === undefined ? undefined : `/registry/${owner.storage}/`;
}
