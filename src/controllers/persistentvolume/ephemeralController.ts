// The ephemeral volume controller (upstream pkg/controller/volume/ephemeral): for each generic
// ephemeral volume of a pod, the PVC `<pod>-<volume>` from its volumeClaimTemplate, owned by the pod
// (so the garbage collector deletes it with the pod). Binding and provisioning then go as for any claim.
import type { PersistentVolumeClaim, Pod, Volume } from 'kubernetes-types/core/v1.js';
import { isAlreadyExists } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';

export const EPHEMERAL_VOLUME_CONTROLLER = 'ephemeral-volume-controller';

/** The claim name of an ephemeral volume (upstream ephemeral.VolumeClaimName). */
export function ephemeralClaimName(pod: Readonly<Pod>, volume: Readonly<Volume>): string {
  return `${pod.metadata?.name ?? ''}-${volume.name}`;
}

/** '' when `pvc` was made for `pod`, else upstream's VolumeIsForPod message. */
export function volumeIsForPod(pod: Readonly<Pod>, pvc: Readonly<PersistentVolumeClaim>): string {
  const owned = (pvc.metadata?.ownerReferences ?? []).some((o) => o.uid === pod.metadata?.uid && o.controller === true);
  return owned ? '' : `PVC ${pvc.metadata?.namespace}/${pvc.metadata?.name} was not created for pod ${pod.metadata?.namespace}/${pod.metadata?.name} (pod is not owner)`;
}

/** The claim the controller creates for one ephemeral volume. */
export function ephemeralClaim(pod: Readonly<Pod>, volume: Readonly<Volume>): PersistentVolumeClaim {
  const template = volume.ephemeral!.volumeClaimTemplate!;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: ephemeralClaimName(pod, volume),
      namespace: pod.metadata!.namespace!,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
      ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
      ...(template.metadata?.labels ? { labels: template.metadata.labels } : {}),
    },
    spec: template.spec,
  };
}

export const EPHEMERAL_VOLUME_DESCRIPTOR = {
  name: EPHEMERAL_VOLUME_CONTROLLER,
  alias: 'ephemeral-volume',
  create: (ctx: ControllerContext): Controller => newEphemeralVolumeController(ctx),
};

export function newEphemeralVolumeController(ctx: ControllerContext): Controller {
  const log = ctx.log.child({ controller: 'ephemeral-volume' });
  const recorder = ctx.recorder('ephemeral_volume');
  const queue = newQueue('ephemeral_volume');
  const pods = ctx.informers.informerFor<Pod & KubeObject>('', 'v1', 'pods');
  const claims = ctx.informers.informerFor<PersistentVolumeClaim & KubeObject>('', 'v1', 'persistentvolumeclaims');
  const claimClient = ctx.client.resource<PersistentVolumeClaim>('', 'v1', 'persistentvolumeclaims');
  const hasEphemeral = (p: Readonly<Pod>) => (p.spec?.volumes ?? []).some((v) => v.ephemeral);
  const enqueue = (p: Readonly<Pod>) => {
    if (hasEphemeral(p) && !p.metadata?.deletionTimestamp) queue.add(keyOf(p));
  };
  pods.addEventHandler({ onAdd: enqueue, onUpdate: (_o, p) => enqueue(p) });
  // A deleted claim of a live pod is created again.
  claims.addEventHandler({
    onDelete: (c) => {
      for (const o of c.metadata?.ownerReferences ?? []) if (o.kind === 'Pod' && o.controller) queue.add(`${c.metadata?.namespace}/${o.name}`);
    },
  });

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = splitKey(key);
    const pod = pods.get(ns, name);
    if (!pod || pod.metadata?.deletionTimestamp) return;
    for (const vol of pod.spec?.volumes ?? []) {
      if (!vol.ephemeral?.volumeClaimTemplate) continue;
      const existing = claims.get(ns, ephemeralClaimName(pod, vol));
      if (existing) {
        const why = volumeIsForPod(pod, existing);
        if (why) throw new Error(why);
        continue;
      }
      try {
        await claimClient.create(ephemeralClaim(pod, vol), { signal });
      } catch (err) {
        if (isAlreadyExists(err)) continue;
        recorder.event({ ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'FailedBinding', `create PVC ${ephemeralClaimName(pod, vol)}: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      }
    }
  }

  return {
    name: EPHEMERAL_VOLUME_CONTROLLER,
    async run(signal) {
      await runQueueWorkers({ name: 'ephemeral_volume', queue, sync, workers: 1, synced: [() => pods.hasSynced(), () => claims.hasSynced()], log }, signal);
    },
  };
}
