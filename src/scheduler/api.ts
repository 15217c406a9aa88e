// What the scheduler writes to the cluster, as one small interface: the real one goes through the
// REST client (see clientAPI.ts); tests can record calls instead.

import type { Pod, PodCondition } from 'kubernetes-types/core/v1.js';

export interface SchedulerAPI {
  /** POST pods/binding. Rejects with the API error (e.g. 409 when already bound). */
  bind(pod: Readonly<Pod>, nodeName: string, signal?: AbortSignal): Promise<void>;
  /**
   * Patches the pod's status: sets `condition` (matched by type) when given, and sets or clears
   * (`null`) `nominatedNodeName` when not undefined.
   */
  patchPodStatus(pod: Readonly<Pod>, condition: PodCondition | undefined, nominatedNodeName: string | null | undefined): Promise<void>;
  /** Deletes a preemption victim (with its UID as precondition). */
  deletePod(pod: Readonly<Pod>, signal?: AbortSignal): Promise<void>;
  /** Sets/clears the PVC annotation a dynamic provisioner waits for (`volume.kubernetes.io/selected-node`). */
  annotateClaim?(namespace: string, name: string, annotations: Record<string, string | null>): Promise<void>;
  /** Pre-binds a PersistentVolume to a claim (spec.claimRef); the PV controller completes the binding. */
  bindVolume?(pvName: string, namespace: string, claimName: string): Promise<void>;
  /** An events.k8s.io/v1 event about `regarding` (never throws; recording is best effort). */
  event(regarding: Readonly<Pod>, related: Readonly<Pod> | undefined, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void;
}
