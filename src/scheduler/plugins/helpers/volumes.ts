// PV/PVC facts the volume plugins share, as upstream's component-helpers/storage/volume: classes,
// PV node affinity, claim names of a pod's volumes, and the annotations of the binding protocol.

import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, Volume } from 'kubernetes-types/core/v1.js';
import { nodeSelectorTermsMatch } from '../../../api/nodeSelector.js';

/** Set by the scheduler on a claim to be provisioned for the chosen node. */
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
/** Set by the PV controller once a claim's binding is complete. */
export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
const ANN_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class';

/** The claim's class: the beta annotation wins over spec.storageClassName; '' means none. */
export function claimClass(pvc: Readonly<PersistentVolumeClaim>): string {
  return pvc.metadata?.annotations?.[ANN_STORAGE_CLASS] ?? pvc.spec?.storageClassName ?? '';
}

export function volumeClass(pv: Readonly<PersistentVolume>): string {
  return pv.metadata?.annotations?.[ANN_STORAGE_CLASS] ?? pv.spec?.storageClassName ?? '';
}

/** Whether the PV's required node affinity (if any) admits a node with these labels. */
export function pvNodeAffinityMatches(pv: Readonly<PersistentVolume>, labels: Readonly<Record<string, string>> | undefined): boolean {
  const required = pv.spec?.nodeAffinity?.required;
  if (!required) return true;
  // As upstream, only labels take part: a node stand-in without a name.
  const stand: Node = { metadata: { labels: { ...(labels ?? {}) } } };
  return nodeSelectorTermsMatch(required.nodeSelectorTerms ?? [], stand);
}

/** The claim a volume uses: its PVC, or the claim a generic ephemeral volume gets (`<pod>-<volume>`). */
export function volumeClaimName(pod: Readonly<Pod>, v: Readonly<Volume>): { name: string; ephemeral: boolean } | undefined {
  if (v.persistentVolumeClaim) return { name: v.persistentVolumeClaim.claimName, ephemeral: false };
  if (v.ephemeral) return { name: `${pod.metadata?.name ?? ''}-${v.name}`, ephemeral: true };
  return undefined;
}

/** The API's NotFound message for a claim, as the scheduler shows it. */
export function claimNotFound(name: string): string {
  return `persistentvolumeclaim "${name}" not found`;
}
