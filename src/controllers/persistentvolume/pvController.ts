// The PersistentVolume binder (upstream persistentvolume-binder-controller, pv_controller.go), the
// part k8ts needs: bind claims to pre-provisioned or provisioned volumes (both sides, with
// upstream's annotations and phases), hand claims of classes with a provisioner to that external
// provisioner (annotation + ExternalProvisioning event), assign the default StorageClass to claims
// that have none (retroactive default, GA in 1.28), and move volumes whose claim is gone to Released.
// Deleting released volumes of reclaimPolicy Delete is the job of their provisioner, as upstream
// for external provisioners. Not done: in-tree deleters/recyclers, volume expansion, migration.
import type { PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { isNotFound } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_STORAGE_PROVISIONER,
  claimClass,
  defaultStorageClass,
  EVENTS,
  externalProvisioningMessage,
  findBestMatchForClaim,
  isDelayBindingMode,
  isDelayBindingProvisioning,
  isVolumeBoundToClaim,
  MSG_CLAIM_LOST,
  MSG_NO_VOLUMES_NO_CLASS,
  MSG_WAIT_FOR_FIRST_CONSUMER,
  volumeMismatch,
} from './binding.js';

export const PERSISTENT_VOLUME_BINDER_CONTROLLER = 'persistentvolume-binder-controller';
/** The component that records this controller's events, as upstream. */
export const PV_CONTROLLER_COMPONENT = 'persistentvolume-controller';

type PVC = PersistentVolumeClaim & KubeObject;
type PV = PersistentVolume & KubeObject;
type SC = StorageClass & KubeObject;

const asClaim = (c: Readonly<PersistentVolumeClaim>): PVC => ({ ...c, apiVersion: 'v1', kind: 'PersistentVolumeClaim' });
const asVolume = (v: Readonly<PersistentVolume>): PV => ({ ...v, apiVersion: 'v1', kind: 'PersistentVolume' });

export interface PVControllerOptions {
  /** Re-examine every claim and volume this often, as upstream's --pvclaimbinder-sync-period (15 s). */
  syncPeriodMs?: number;
}

/** The controller descriptor for `src/controllers/manager.ts` CONTROLLERS. */
export const PERSISTENT_VOLUME_BINDER_DESCRIPTOR = {
  name: PERSISTENT_VOLUME_BINDER_CONTROLLER,
  alias: 'persistentvolume-binder',
  create: (ctx: ControllerContext): Controller => newPersistentVolumeController(ctx),
};

export function newPersistentVolumeController(ctx: ControllerContext, opts: PVControllerOptions = {}): Controller {
  const log = ctx.log.child({ controller: 'persistentvolume-binder' });
  const recorder = ctx.recorder(PV_CONTROLLER_COMPONENT);
  const syncPeriodMs = opts.syncPeriodMs ?? 15_000;
  const claimQueue = newQueue('claims');
  const volumeQueue = newQueue('volumes');
  const claims = ctx.informers.informerFor<PVC>('', 'v1', 'persistentvolumeclaims', { resyncPeriodMs: syncPeriodMs });
  const volumes = ctx.informers.informerFor<PV>('', 'v1', 'persistentvolumes', { resyncPeriodMs: syncPeriodMs });
  const classes = ctx.informers.informerFor<SC>('storage.k8s.io', 'v1', 'storageclasses');
  const claimClient = ctx.client.resource<PersistentVolumeClaim>('', 'v1', 'persistentvolumeclaims');
  const volumeClient = ctx.client.resource<PersistentVolume>('', 'v1', 'persistentvolumes');
  const classOf = (name: string) => classes.get(undefined, name);

  const enqueueClaim = (c: Readonly<PVC>) => claimQueue.add(keyOf(c));
  const enqueueVolume = (v: Readonly<PV>) => volumeQueue.add(v.metadata!.name!);
  claims.addEventHandler({
    onAdd: enqueueClaim,
    onUpdate: (_o, c) => enqueueClaim(c),
    // A deleted claim may release its volume.
    onDelete: (c) => {
      const pvName = c.spec?.volumeName;
      if (pvName) volumeQueue.add(pvName);
    },
  });
  volumes.addEventHandler({
    onAdd: enqueueVolume,
    onUpdate: (_o, v) => enqueueVolume(v),
    onDelete: (v) => {
      const ref = v.spec?.claimRef;
      if (ref?.namespace && ref.name) claimQueue.add(`${ref.namespace}/${ref.name}`);
    },
  });
  // A new default class adopts claims waiting without one.
  classes.addEventHandler({ onAdd: () => claims.list().forEach((c) => c.spec?.storageClassName === undefined && enqueueClaim(c)) });

  async function syncClaim(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = splitKey(key);
    const claim = claims.get(ns, name);
    if (!claim || claim.metadata?.deletionTimestamp) return;
    if (claim.spec?.storageClassName === undefined && !claim.metadata?.annotations?.['volume.beta.kubernetes.io/storage-class'] && !claim.spec?.volumeName) {
      const def = defaultStorageClass(classes.list());
      if (def) {
        // Retroactive default StorageClass assignment (upstream assignDefaultStorageClass).
        await claimClient.update({ ...structuredClone(claim), spec: { ...claim.spec, storageClassName: def.metadata!.name! } }, { signal });
        return;
      }
    }
    if (!claim.spec?.volumeName) await syncUnboundClaim(claim, signal);
    else await syncPreBoundOrBoundClaim(claim, signal);
  }

  async function syncUnboundClaim(claim: Readonly<PVC>, signal: AbortSignal): Promise<void> {
    const delay = isDelayBindingMode(claim, classOf);
    const pv = findBestMatchForClaim(volumes.list(), claim, delay);
    if (pv) {
      await bind(pv, claim, signal);
      return;
    }
    const cls = claimClass(claim);
    if (delay && !isDelayBindingProvisioning(claim)) {
      recorder.event(asClaim(claim), 'Normal', EVENTS.WaitForFirstConsumer, MSG_WAIT_FOR_FIRST_CONSUMER);
    } else if (cls !== '') {
      await provisionClaim(claim, cls, signal);
      return;
    } else {
      recorder.event(asClaim(claim), 'Normal', EVENTS.FailedBinding, MSG_NO_VOLUMES_NO_CLASS);
    }
    await updateClaimPhase(claim, 'Pending', signal);
  }

  /** External provisioners only (k8ts has no in-tree ones): annotate the claim for the provisioner and wait. */
  async function provisionClaim(claim: Readonly<PVC>, cls: string, signal: AbortSignal): Promise<void> {
    const sc = classOf(cls);
    if (!sc) {
      recorder.event(asClaim(claim), 'Warning', EVENTS.ProvisioningFailed, `storageclass.storage.k8s.io "${cls}" not found`);
      await updateClaimPhase(claim, 'Pending', signal);
      return;
    }
    const provisioner = sc.provisioner;
    let current: Readonly<PVC> = claim;
    const anns = claim.metadata?.annotations ?? {};
    if (anns[ANN_STORAGE_PROVISIONER] !== provisioner || anns[ANN_BETA_STORAGE_PROVISIONER] !== provisioner) {
      current = await claimClient.update(
        { ...structuredClone(claim), metadata: { ...claim.metadata, annotations: { ...anns, [ANN_STORAGE_PROVISIONER]: provisioner, [ANN_BETA_STORAGE_PROVISIONER]: provisioner } } },
        { signal },
      );
    }
    recorder.event(asClaim(current), 'Normal', EVENTS.ExternalProvisioning, externalProvisioningMessage(provisioner));
    await updateClaimPhase(current, 'Pending', signal);
  }

  async function syncPreBoundOrBoundClaim(claim: Readonly<PVC>, signal: AbortSignal): Promise<void> {
    const pvName = claim.spec!.volumeName!;
    const pv = volumes.get(undefined, pvName);
    if (!pv) {
      if (claim.metadata?.annotations?.[ANN_BIND_COMPLETED]) {
        if (claim.status?.phase !== 'Lost') {
          recorder.event(asClaim(claim), 'Warning', EVENTS.ClaimLost, MSG_CLAIM_LOST);
          await updateClaimPhase(claim, 'Lost', signal);
        }
      } else await updateClaimPhase(claim, 'Pending', signal);
      return;
    }
    if (!pv.spec?.claimRef || isVolumeBoundToClaim(pv, claim)) {
      if (!pv.spec?.claimRef) {
        const why = volumeMismatch(pv, claim);
        if (why) {
          recorder.event(asClaim(claim), 'Warning', EVENTS.VolumeMismatch, `Cannot bind to requested volume "${pvName}": ${why}`);
          await updateClaimPhase(claim, 'Pending', signal);
          return;
        }
      }
      await bind(pv, claim, signal);
      return;
    }
    // The volume belongs to another claim.
    if (!claim.metadata?.annotations?.[ANN_BIND_COMPLETED]) {
      recorder.event(asClaim(claim), 'Warning', EVENTS.FailedBinding, 'volume "' + pvName + '" already bound to a different claim.');
      await updateClaimPhase(claim, 'Pending', signal);
    }
  }

  /** Binds both sides, volume first (upstream's order), each step skipped when already done. */
  async function bind(pv: Readonly<PV>, claim: Readonly<PVC>, signal: AbortSignal): Promise<void> {
    let volume: Readonly<PersistentVolume> = pv;
    const ref = pv.spec?.claimRef;
    if (!ref || ref.uid !== claim.metadata?.uid || ref.resourceVersion === undefined) {
      const next = structuredClone(pv) as PersistentVolume;
      next.spec = {
        ...next.spec,
        claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: claim.metadata!.namespace!, name: claim.metadata!.name!, uid: claim.metadata!.uid!, resourceVersion: claim.metadata!.resourceVersion! },
      };
      if (!ref) next.metadata = { ...next.metadata, annotations: { ...next.metadata?.annotations, [ANN_BOUND_BY_CONTROLLER]: 'yes' } };
      volume = await volumeClient.update(next, { signal });
    }
    if (volume.status?.phase !== 'Bound') volume = await volumeClient.updateStatus({ ...structuredClone(volume), status: { ...volume.status, phase: 'Bound', message: undefined, reason: undefined } }, { signal });
    let c: Readonly<PersistentVolumeClaim> = claim;
    const anns = claim.metadata?.annotations ?? {};
    if (claim.spec?.volumeName !== volume.metadata!.name || anns[ANN_BIND_COMPLETED] !== 'yes') {
      const boundByController: Record<string, string> = !claim.spec?.volumeName ? { [ANN_BOUND_BY_CONTROLLER]: 'yes' } : {};
      c = await claimClient.update(
        { ...structuredClone(claim), metadata: { ...claim.metadata, annotations: { ...anns, [ANN_BIND_COMPLETED]: 'yes', ...boundByController } }, spec: { ...claim.spec, volumeName: volume.metadata!.name! } },
        { signal },
      );
    }
    const want = { phase: 'Bound', accessModes: volume.spec?.accessModes, capacity: volume.spec?.capacity };
    if (c.status?.phase !== 'Bound' || JSON.stringify(c.status.capacity) !== JSON.stringify(want.capacity) || JSON.stringify(c.status.accessModes) !== JSON.stringify(want.accessModes)) {
      await claimClient.updateStatus({ ...structuredClone(c), status: { ...c.status, ...want } }, { signal });
    }
    log.info({ claim: keyOf(claim), volume: volume.metadata?.name }, 'bound claim to volume');
  }

  async function updateClaimPhase(claim: Readonly<PersistentVolumeClaim>, phase: string, signal: AbortSignal): Promise<void> {
    if (claim.status?.phase === phase) return;
    await claimClient.updateStatus({ ...structuredClone(claim), status: { ...claim.status, phase } }, { signal });
  }

  async function updateVolumePhase(pv: Readonly<PersistentVolume>, phase: string, signal: AbortSignal, message?: string): Promise<void> {
    if (pv.status?.phase === phase) return;
    await volumeClient.updateStatus({ ...structuredClone(pv), status: { ...pv.status, phase, ...(message ? { message } : {}) } }, { signal });
  }

  async function syncVolume(name: string, signal: AbortSignal): Promise<void> {
    const pv = volumes.get(undefined, name);
    if (!pv || pv.metadata?.deletionTimestamp) return;
    const ref = pv.spec?.claimRef;
    if (!ref) {
      await updateVolumePhase(pv, 'Available', signal);
      return;
    }
    const claim = ref.namespace && ref.name ? claims.get(ref.namespace, ref.name) : undefined;
    if (!ref.uid) {
      // Pre-bound by a user or a provisioner: the claim side completes the binding.
      await updateVolumePhase(pv, 'Available', signal);
      if (claim) enqueueClaim(claim);
      return;
    }
    if (!claim || claim.metadata?.uid !== ref.uid) {
      // The claim is gone: the volume is released; its reclaim policy is the provisioner's (or the admin's) business.
      if (pv.status?.phase !== 'Released' && pv.status?.phase !== 'Failed') await updateVolumePhase(pv, 'Released', signal);
      return;
    }
    if (!claim.spec?.volumeName) {
      enqueueClaim(claim);
      return;
    }
    if (claim.spec.volumeName === name) {
      await updateVolumePhase(pv, 'Bound', signal);
      return;
    }
    // The claim is bound to another volume; undo a binding this controller made.
    if (pv.metadata?.annotations?.[ANN_BOUND_BY_CONTROLLER]) {
      const next = structuredClone(pv) as PersistentVolume;
      delete next.spec!.claimRef;
      const anns = { ...next.metadata?.annotations };
      delete anns[ANN_BOUND_BY_CONTROLLER];
      next.metadata = { ...next.metadata, annotations: anns };
      const updated = await volumeClient.update(next, { signal });
      await updateVolumePhase(updated, 'Available', signal);
    } else await updateVolumePhase(pv, 'Released', signal);
  }

  const tolerant = (fn: (key: string, signal: AbortSignal) => Promise<void>) => async (key: string, signal: AbortSignal) => {
    try {
      await fn(key, signal);
    } catch (err) {
      // A stale cache lost a race or the object vanished: the informer brings the new state and a new sync.
      if (isNotFound(err)) return;
      throw err;
    }
  };

  return {
    name: PERSISTENT_VOLUME_BINDER_CONTROLLER,
    async run(signal) {
      const synced = [() => claims.hasSynced(), () => volumes.hasSynced(), () => classes.hasSynced()];
      await Promise.all([
        runQueueWorkers({ name: 'claims', queue: claimQueue, sync: tolerant(syncClaim), workers: 1, synced, log }, signal),
        runQueueWorkers({ name: 'volumes', queue: volumeQueue, sync: tolerant(syncVolume), workers: 1, synced, log }, signal),
      ]);
    },
  };
}
