// Storage printers: persistent volumes and claims (core/v1), storage classes, CSI drivers and nodes, and
// volume attachments (storage.k8s.io/v1).
import type { PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { CSIDriver, CSINode, StorageClass, VolumeAttachment } from 'kubernetes-types/storage/v1.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer, wide } from '../printer.js';
import { canonicalQuantity } from '../../quantity.js';

/** The beta annotation that, when present, names the class instead of spec.storageClassName. */
export const BETA_STORAGE_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class';
export const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
export const BETA_DEFAULT_CLASS_ANNOTATION = 'storageclass.beta.kubernetes.io/is-default-class';

const ACCESS_MODES: ReadonlyArray<[string, string]> = [
  ['ReadWriteOnce', 'RWO'],
  ['ReadOnlyMany', 'ROX'],
  ['ReadWriteMany', 'RWX'],
  ['ReadWriteOncePod', 'RWOP'],
];

/** `RWO,ROX,RWX,RWOP`: the modes present, abbreviated, in that fixed order. */
export function accessModes(modes: readonly string[] | undefined): string {
  const have = new Set(modes ?? []);
  return ACCESS_MODES.filter(([m]) => have.has(m))
    .map(([, short]) => short)
    .join(',');
}

function annotation(meta: { annotations?: Record<string, string> } | undefined, key: string): string | undefined {
  const a = meta?.annotations;
  return a && Object.prototype.hasOwnProperty.call(a, key) ? a[key] : undefined;
}

export const persistentVolumePrinter = printer<PersistentVolume>(
  [
    NAME_COLUMN,
    column('Capacity', 'string', 'The volume’s storage capacity.'),
    column('Access Modes', 'string', 'How the volume can be mounted: RWO, ROX, RWX, RWOP.'),
    column('Reclaim Policy', 'string', 'What happens to the volume when its claim goes: Retain, Delete or Recycle.'),
    column('Status', 'string', 'The volume’s phase: Available, Bound, Released, Failed, or Terminating.'),
    column('Claim', 'string', 'The claim bound to the volume, as namespace/name.'),
    column('StorageClass', 'string', 'The storage class the volume belongs to.'),
    column('VolumeAttributesClass', 'string', 'The volume attributes class the volume uses.'),
    column('Reason', 'string', 'Why the volume is in its phase, when it failed.'),
    AGE_COLUMN,
    wide('VolumeMode', 'string', 'Filesystem or Block.'),
  ],
  (pv, ctx) => {
    const claim = pv.spec?.claimRef ? `${pv.spec.claimRef.namespace ?? ''}/${pv.spec.claimRef.name ?? ''}` : '';
    return [
      pv.metadata?.name ?? '',
      canonicalQuantity(pv.spec?.capacity?.storage),
      accessModes(pv.spec?.accessModes),
      pv.spec?.persistentVolumeReclaimPolicy ?? '',
      pv.metadata?.deletionTimestamp ? 'Terminating' : (pv.status?.phase ?? ''),
      claim,
      annotation(pv.metadata, BETA_STORAGE_CLASS_ANNOTATION) ?? pv.spec?.storageClassName ?? '',
      pv.spec?.volumeAttributesClassName ?? '<unset>',
      pv.status?.reason ?? '',
      ageSince(pv.metadata?.creationTimestamp, ctx.now),
      pv.spec?.volumeMode ?? '<unset>',
    ];
  },
);

export const persistentVolumeClaimPrinter = printer<PersistentVolumeClaim>(
  [
    NAME_COLUMN,
    column('Status', 'string', 'The claim’s phase: Pending, Bound, Lost, or Terminating.'),
    column('Volume', 'string', 'The volume bound to the claim.'),
    column('Capacity', 'string', 'The capacity of the bound volume.'),
    column('Access Modes', 'string', 'How the bound volume can be mounted: RWO, ROX, RWX, RWOP.'),
    column('StorageClass', 'string', 'The storage class the claim asks for.'),
    column('VolumeAttributesClass', 'string', 'The volume attributes class the claim asks for.'),
    AGE_COLUMN,
    wide('VolumeMode', 'string', 'Filesystem or Block.'),
  ],
  (pvc, ctx) => {
    const bound = (pvc.spec?.volumeName ?? '') !== '';
    return [
      pvc.metadata?.name ?? '',
      pvc.metadata?.deletionTimestamp ? 'Terminating' : (pvc.status?.phase ?? ''),
      pvc.spec?.volumeName ?? '',
      // Capacity and modes describe the bound volume, so they stay empty until there is one.
      bound ? canonicalQuantity(pvc.status?.capacity?.storage) : '',
      bound ? accessModes(pvc.status?.accessModes) : '',
      annotation(pvc.metadata, BETA_STORAGE_CLASS_ANNOTATION) ?? pvc.spec?.storageClassName ?? '',
      pvc.spec?.volumeAttributesClassName ?? '<unset>',
      ageSince(pvc.metadata?.creationTimestamp, ctx.now),
      pvc.spec?.volumeMode ?? '<unset>',
    ];
  },
);

export const storageClassPrinter = printer<StorageClass>(
  [
    NAME_COLUMN,
    column('Provisioner', 'string', 'The volume plugin that provisions volumes of the class.'),
    column('ReclaimPolicy', 'string', 'The reclaim policy of volumes the class provisions.'),
    column('VolumeBindingMode', 'string', 'When claims are bound: Immediate or WaitForFirstConsumer.'),
    column('AllowVolumeExpansion', 'string', 'Whether claims of the class may grow.'),
    AGE_COLUMN,
  ],
  (sc, ctx) => {
    const isDefault =
      annotation(sc.metadata, DEFAULT_CLASS_ANNOTATION) === 'true' || annotation(sc.metadata, BETA_DEFAULT_CLASS_ANNOTATION) === 'true';
    return [
      `${sc.metadata?.name ?? ''}${isDefault ? ' (default)' : ''}`,
      sc.provisioner ?? '',
      sc.reclaimPolicy ?? 'Delete',
      sc.volumeBindingMode ?? 'Immediate',
      sc.allowVolumeExpansion ?? false,
      ageSince(sc.metadata?.creationTimestamp, ctx.now),
    ];
  },
);

export const csiDriverPrinter = printer<CSIDriver>(
  [
    NAME_COLUMN,
    column('AttachRequired', 'boolean', 'Whether volumes of the driver need an attach step.'),
    column('PodInfoOnMount', 'boolean', 'Whether the driver gets pod information on mount.'),
    column('StorageCapacity', 'boolean', 'Whether the scheduler considers the driver’s storage capacity.'),
    column('TokenRequests', 'string', 'The audiences of service account tokens passed to the driver.'),
    column('RequiresRepublish', 'boolean', 'Whether the driver wants NodePublishVolume called periodically.'),
    column('Modes', 'string', 'The volume lifecycle modes the driver supports.'),
    AGE_COLUMN,
  ],
  (d, ctx) => {
    const modes = (d.spec?.volumeLifecycleModes ?? []).join(',');
    const tokens = d.spec?.tokenRequests;
    return [
      d.metadata?.name ?? '',
      d.spec?.attachRequired ?? true,
      d.spec?.podInfoOnMount ?? false,
      d.spec?.storageCapacity ?? false,
      tokens === undefined || tokens === null ? '<unset>' : tokens.map((t) => t.audience).join(','),
      d.spec?.requiresRepublish ?? false,
      modes === '' ? '<none>' : modes,
      ageSince(d.metadata?.creationTimestamp, ctx.now),
    ];
  },
);

export const csiNodePrinter = printer<CSINode>(
  [NAME_COLUMN, column('Drivers', 'integer', 'How many CSI drivers are registered on the node.'), AGE_COLUMN],
  (n, ctx) => [n.metadata?.name ?? '', (n.spec?.drivers ?? []).length, ageSince(n.metadata?.creationTimestamp, ctx.now)],
);

export const volumeAttachmentPrinter = printer<VolumeAttachment>(
  [
    NAME_COLUMN,
    // Upstream marks this column with format "name" too.
    column('Attacher', 'string', 'The CSI driver that attaches the volume.', { format: 'name' }),
    column('PV', 'string', 'The persistent volume to attach.'),
    column('Node', 'string', 'The node to attach the volume to.'),
    column('Attached', 'boolean', 'Whether the volume is attached.'),
    AGE_COLUMN,
  ],
  (va, ctx) => [
    va.metadata?.name ?? '',
    va.spec?.attacher ?? '',
    va.spec?.source?.persistentVolumeName ?? '',
    va.spec?.nodeName ?? '',
    va.status?.attached ?? false,
    ageSince(va.metadata?.creationTimestamp, ctx.now),
  ],
);
