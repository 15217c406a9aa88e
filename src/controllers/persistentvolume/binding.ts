// Pure decisions of the PersistentVolume binder, after upstream's pkg/controller/volume/persistentvolume
// (pv_controller.go, index.go) and component-helpers/storage/volume: which volume satisfies a
// claim, and what phase each side should be in.
import type { PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { fromLabelSelector, matches } from '../../api/labels.js';
import { quantityValue } from '../../api/quantity.js';

export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
export const ANN_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller';
export const ANN_DYNAMICALLY_PROVISIONED = 'pv.kubernetes.io/provisioned-by';
export const ANN_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner';
export const ANN_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner';
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
export const ANN_DEFAULT_STORAGE_CLASS = 'storageclass.kubernetes.io/is-default-class';
export const ANN_BETA_DEFAULT_STORAGE_CLASS = 'storageclass.beta.kubernetes.io/is-default-class';

/** Event reasons and messages (upstream pkg/controller/volume/events). */
export const EVENTS = {
  FailedBinding: 'FailedBinding',
  WaitForFirstConsumer: 'WaitForFirstConsumer',
  ExternalProvisioning: 'ExternalProvisioning',
  ProvisioningFailed: 'ProvisioningFailed',
  ClaimLost: 'ClaimLost',
  VolumeMismatch: 'VolumeMismatch',
} as const;
export const MSG_NO_VOLUMES_NO_CLASS = 'no persistent volumes available for this claim and no storage class is set';
export const MSG_WAIT_FOR_FIRST_CONSUMER = 'waiting for first consumer to be created before binding';
export const MSG_CLAIM_LOST = 'Bound claim has lost its PersistentVolume. Data on the volume is lost!';
export const externalProvisioningMessage = (provisioner: string): string =>
  `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`;

/** spec.storageClassName, or the beta annotation, or '' (upstream GetPersistentVolumeClaimClass). */
export function claimClass(claim: Readonly<PersistentVolumeClaim>): string {
  return claim.metadata?.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? claim.spec?.storageClassName ?? '';
}

export function volumeClass(pv: Readonly<PersistentVolume>): string {
  return pv.metadata?.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? pv.spec?.storageClassName ?? '';
}

/** The claim waits for a pod to be scheduled before binding (class with WaitForFirstConsumer). */
export function isDelayBindingMode(claim: Readonly<PersistentVolumeClaim>, classes: (name: string) => Readonly<StorageClass> | undefined): boolean {
  const name = claimClass(claim);
  if (!name) return false;
  return classes(name)?.volumeBindingMode === 'WaitForFirstConsumer';
}

/** The scheduler picked a node for a delayed claim that needs provisioning. */
export function isDelayBindingProvisioning(claim: Readonly<PersistentVolumeClaim>): boolean {
  return (claim.metadata?.annotations?.[ANN_SELECTED_NODE] ?? '') !== '';
}

/** The volume's claimRef names this claim (and, once bound, its UID). */
export function isVolumeBoundToClaim(pv: Readonly<PersistentVolume>, claim: Readonly<PersistentVolumeClaim>): boolean {
  const ref = pv.spec?.claimRef;
  if (!ref) return false;
  if (ref.name !== claim.metadata?.name || ref.namespace !== claim.metadata?.namespace) return false;
  return !ref.uid || ref.uid === claim.metadata?.uid;
}

function accessModesContained(volumeModes: readonly string[] | undefined, claimModes: readonly string[] | undefined): boolean {
  const have = new Set(volumeModes ?? []);
  return (claimModes ?? []).every((m) => have.has(m));
}

/**
 * Why `pv` cannot serve `claim` ('' when it can): class, access modes, volume mode, size, selector.
 * Messages follow upstream's checkVolumeSatisfyClaim.
 */
export function volumeMismatch(pv: Readonly<PersistentVolume>, claim: Readonly<PersistentVolumeClaim>): string {
  const requested = quantityValue(claim.spec?.resources?.requests?.storage);
  const capacity = quantityValue(pv.spec?.capacity?.storage);
  if (capacity < requested) return 'requested PV is too small';
  if (volumeClass(pv) !== claimClass(claim)) return 'storageClassName does not match';
  if ((pv.spec?.volumeMode ?? 'Filesystem') !== (claim.spec?.volumeMode ?? 'Filesystem')) return 'incompatible volumeMode';
  if (!accessModesContained(pv.spec?.accessModes, claim.spec?.accessModes)) return 'incompatible accessMode';
  return '';
}

/**
 * upstream FindMatchingVolume for the PV controller's path (no node): a volume pre-bound to the
 * claim wins; otherwise the smallest available volume that satisfies the claim. Unbound volumes
 * are not chosen for delayed-binding claims: the scheduler picks those.
 */
export function findBestMatchForClaim(volumes: readonly Readonly<PersistentVolume>[], claim: Readonly<PersistentVolumeClaim>, delayBinding: boolean): Readonly<PersistentVolume> | undefined {
  const selector = claim.spec?.selector ? fromLabelSelector(claim.spec.selector) : undefined;
  let best: Readonly<PersistentVolume> | undefined;
  for (const pv of volumes) {
    if (pv.metadata?.deletionTimestamp) continue;
    if (volumeMismatch(pv, claim) !== '') continue;
    if (pv.spec?.claimRef) {
      if (isVolumeBoundToClaim(pv, claim)) return pv;
      continue;
    }
    if (delayBinding) continue;
    const phase = pv.status?.phase ?? 'Available';
    if (phase !== 'Available' && phase !== 'Pending') continue;
    if (selector && !matches(selector, pv.metadata?.labels ?? {})) continue;
    if (!best || quantityValue(pv.spec?.capacity?.storage) < quantityValue(best.spec?.capacity?.storage)) best = pv;
  }
  return best;
}

/** The default StorageClass (newest of several, as upstream since 1.26), if any. */
export function defaultStorageClass(classes: readonly Readonly<StorageClass>[]): Readonly<StorageClass> | undefined {
  const defaults = classes.filter((c) => c.metadata?.annotations?.[ANN_DEFAULT_STORAGE_CLASS] === 'true' || c.metadata?.annotations?.[ANN_BETA_DEFAULT_STORAGE_CLASS] === 'true');
  defaults.sort((a, b) => (b.metadata?.creationTimestamp ?? '').localeCompare(a.metadata?.creationTimestamp ?? '') || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  return defaults[0];
}
