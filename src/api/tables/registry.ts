// Which printer renders which kind: upstream's print handlers, keyed by API group and kind (any version).
// Kinds absent here get the default NAME / CREATED AT table, as upstream's stores without a printer do
// (roles, cluster roles, limit ranges, CSI storage capacities, CRDs, ...).
import {
  mutatingAdmissionPolicyBindingPrinter,
  mutatingAdmissionPolicyPrinter,
  mutatingWebhookConfigurationPrinter,
  validatingAdmissionPolicyBindingPrinter,
  validatingAdmissionPolicyPrinter,
  validatingWebhookConfigurationPrinter,
} from './printers/admission.js';
import { apiServicePrinter } from './printers/apiregistration.js';
import { controllerRevisionPrinter, daemonSetPrinter, deploymentPrinter, replicaSetPrinter, statefulSetPrinter } from './printers/apps.js';
import { horizontalPodAutoscalerPrinter, scalePrinter } from './printers/autoscaling.js';
import { cronJobPrinter, jobPrinter } from './printers/batch.js';
import { certificateSigningRequestPrinter, clusterTrustBundlePrinter } from './printers/certificates.js';
import { leaseCandidatePrinter, leasePrinter } from './printers/coordination.js';
import {
  componentStatusPrinter,
  configMapPrinter,
  namespacePrinter,
  podTemplatePrinter,
  replicationControllerPrinter,
  resourceQuotaPrinter,
  secretPrinter,
  serviceAccountPrinter,
} from './printers/core.js';
import { eventPrinter } from './printers/event.js';
import { flowSchemaPrinter, priorityLevelConfigurationPrinter } from './printers/flowcontrol.js';
import {
  endpointSlicePrinter,
  ingressClassPrinter,
  ingressPrinter,
  ipAddressPrinter,
  networkPolicyPrinter,
  serviceCIDRPrinter,
} from './printers/networking.js';
import { nodePrinter } from './printers/node.js';
import { podPrinter } from './printers/pod.js';
import { podDisruptionBudgetPrinter } from './printers/policy.js';
import { clusterRoleBindingPrinter, roleBindingPrinter } from './printers/rbac.js';
import { deviceClassPrinter, resourceClaimPrinter, resourceClaimTemplatePrinter, resourceSlicePrinter } from './printers/resource.js';
import { priorityClassPrinter, runtimeClassPrinter } from './printers/scheduling.js';
import { endpointsPrinter, servicePrinter } from './printers/service.js';
import {
  csiDriverPrinter,
  csiNodePrinter,
  persistentVolumeClaimPrinter,
  persistentVolumePrinter,
  storageClassPrinter,
  volumeAttachmentPrinter,
} from './printers/storage.js';
import { storageVersionMigrationPrinter, storageVersionPrinter } from './printers/storageVersion.js';
import type { Printer } from './printer.js';

export interface GroupKind {
  /** '' for the core group. */
  group: string;
  kind: string;
}

const PRINTERS: ReadonlyArray<[string, string, Printer]> = [
  ['', 'Pod', podPrinter],
  ['', 'PodTemplate', podTemplatePrinter],
  ['', 'ReplicationController', replicationControllerPrinter],
  ['', 'Service', servicePrinter],
  ['', 'Endpoints', endpointsPrinter],
  ['', 'Node', nodePrinter],
  ['', 'Event', eventPrinter],
  ['events.k8s.io', 'Event', eventPrinter], // rows are built from the core shape, see toTable
  ['', 'Namespace', namespacePrinter],
  ['', 'Secret', secretPrinter],
  ['', 'ServiceAccount', serviceAccountPrinter],
  ['', 'ConfigMap', configMapPrinter],
  ['', 'PersistentVolume', persistentVolumePrinter],
  ['', 'PersistentVolumeClaim', persistentVolumeClaimPrinter],
  ['', 'ComponentStatus', componentStatusPrinter],
  ['', 'ResourceQuota', resourceQuotaPrinter],
  ['apps', 'Deployment', deploymentPrinter],
  ['apps', 'ReplicaSet', replicaSetPrinter],
  ['apps', 'StatefulSet', statefulSetPrinter],
  ['apps', 'DaemonSet', daemonSetPrinter],
  ['apps', 'ControllerRevision', controllerRevisionPrinter],
  ['batch', 'Job', jobPrinter],
  ['batch', 'CronJob', cronJobPrinter],
  ['autoscaling', 'HorizontalPodAutoscaler', horizontalPodAutoscalerPrinter],
  ['autoscaling', 'Scale', scalePrinter],
  ['policy', 'PodDisruptionBudget', podDisruptionBudgetPrinter],
  ['networking.k8s.io', 'Ingress', ingressPrinter],
  ['networking.k8s.io', 'IngressClass', ingressClassPrinter],
  ['networking.k8s.io', 'NetworkPolicy', networkPolicyPrinter],
  ['networking.k8s.io', 'ServiceCIDR', serviceCIDRPrinter],
  ['networking.k8s.io', 'IPAddress', ipAddressPrinter],
  ['discovery.k8s.io', 'EndpointSlice', endpointSlicePrinter],
  ['rbac.authorization.k8s.io', 'RoleBinding', roleBindingPrinter],
  ['rbac.authorization.k8s.io', 'ClusterRoleBinding', clusterRoleBindingPrinter],
  ['certificates.k8s.io', 'CertificateSigningRequest', certificateSigningRequestPrinter],
  ['certificates.k8s.io', 'ClusterTrustBundle', clusterTrustBundlePrinter],
  ['coordination.k8s.io', 'Lease', leasePrinter],
  ['coordination.k8s.io', 'LeaseCandidate', leaseCandidatePrinter],
  ['storage.k8s.io', 'StorageClass', storageClassPrinter],
  ['storage.k8s.io', 'CSIDriver', csiDriverPrinter],
  ['storage.k8s.io', 'CSINode', csiNodePrinter],
  ['storage.k8s.io', 'VolumeAttachment', volumeAttachmentPrinter],
  ['scheduling.k8s.io', 'PriorityClass', priorityClassPrinter],
  ['node.k8s.io', 'RuntimeClass', runtimeClassPrinter],
  ['flowcontrol.apiserver.k8s.io', 'FlowSchema', flowSchemaPrinter],
  ['flowcontrol.apiserver.k8s.io', 'PriorityLevelConfiguration', priorityLevelConfigurationPrinter],
  ['apiregistration.k8s.io', 'APIService', apiServicePrinter],
  ['apiserverinternal.k8s.io', 'StorageVersion', storageVersionPrinter],
  ['storagemigration.k8s.io', 'StorageVersionMigration', storageVersionMigrationPrinter],
  ['resource.k8s.io', 'DeviceClass', deviceClassPrinter],
  ['resource.k8s.io', 'ResourceClaim', resourceClaimPrinter],
  ['resource.k8s.io', 'ResourceClaimTemplate', resourceClaimTemplatePrinter],
  ['resource.k8s.io', 'ResourceSlice', resourceSlicePrinter],
  ['admissionregistration.k8s.io', 'MutatingWebhookConfiguration', mutatingWebhookConfigurationPrinter],
  ['admissionregistration.k8s.io', 'ValidatingWebhookConfiguration', validatingWebhookConfigurationPrinter],
  ['admissionregistration.k8s.io', 'ValidatingAdmissionPolicy', validatingAdmissionPolicyPrinter],
  ['admissionregistration.k8s.io', 'ValidatingAdmissionPolicyBinding', validatingAdmissionPolicyBindingPrinter],
  ['admissionregistration.k8s.io', 'MutatingAdmissionPolicy', mutatingAdmissionPolicyPrinter],
  ['admissionregistration.k8s.io', 'MutatingAdmissionPolicyBinding', mutatingAdmissionPolicyBindingPrinter],
];

const BY_GROUP_KIND = new Map(PRINTERS.map(([group, kind, p]) => [`${group}/${kind}`, p]));

/** The printer upstream registers for a kind, or undefined when upstream prints the default table. */
export function printerFor(gk: GroupKind): Printer | undefined {
  return BY_GROUP_KIND.get(`${gk.group}/${gk.kind}`);
}

/** Every group/kind with a printer of its own (for tests and discovery of what is covered). */
export function printedKinds(): GroupKind[] {
  return PRINTERS.map(([group, kind]) => ({ group, kind }));
}
