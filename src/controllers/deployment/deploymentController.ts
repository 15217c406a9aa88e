// The Deployment controller (upstream `deployment-controller`): owns ReplicaSets named
// `<deployment>-<pod-template-hash>`, rolls from old to new ones (RollingUpdate within
// maxSurge/maxUnavailable, or Recreate), scales them proportionally on a resize mid-rollout,
// keeps revision annotations and history, and reports status with Available/Progressing
// conditions. It never touches pods: the ReplicaSet controller does.

import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { fromLabelSelector, matches } from '../../api/labels.js';
import { isAlreadyExists, isNotFound } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { claimChildren, controllerOf, controllerRef, type Owner } from '../controllerRef.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { computeHash } from './podTemplateHash.js';
import {
  calculateStatus,
  deploymentComplete,
  DESIRED_REPLICAS_ANNOTATION,
  equalIgnoreHash,
  FAILED_RS_CREATE_REASON,
  filterActive,
  findNewReplicaSet,
  findOldReplicaSets,
  FOUND_NEW_RS_REASON,
  getCondition,
  hasProgressDeadline,
  maxRevision,
  maxScaledDown,
  maxSurge,
  NEW_RS_REASON,
  newCondition,
  newRSNewReplicas,
  PAUSED_DEPLOY_REASON,
  planRollingScaleDown,
  planScale,
  planUnhealthyCleanup,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  replicaSetsToCleanUp,
  replicasAnnotationsNeedUpdate,
  RESUMED_DEPLOY_REASON,
  rolloutStatus,
  sameStatus,
  setCondition,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  specReplicas,
  stuckRequeueAfter,
  sumSpecReplicas,
  sumStatusReplicas,
  TIMED_OUT_REASON,
} from './rolloutPlanning.js';

export const DEPLOYMENT_CONTROLLER_NAME = 'deployment';
const COMPONENT = 'deployment-controller';
/** Upstream drops a key after this many failed syncs (until its next event). */
const MAX_RETRIES = 15;

type DeploymentObj = Deployment & KubeObject;
type RSObj = ReplicaSet & KubeObject;
type RS = Readonly<RSObj>;

const ownerOf = (d: Readonly<Deployment>): Owner => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: d.metadata! });
const rsReplicas = (rs: RS): number => rs.spec?.replicas ?? 0;

/** Upstream's `deployment` controller; register it under that `--controllers` name. */
export function newDeploymentController(ctx: ControllerContext): Controller {
  const log = ctx.log.child({ controller: DEPLOYMENT_CONTROLLER_NAME });
  const queue = newQueue(DEPLOYMENT_CONTROLLER_NAME);
  const deployments = ctx.informers.informerFor<DeploymentObj>('apps', 'v1', 'deployments');
  const replicaSets = ctx.informers.informerFor<RSObj>('apps', 'v1', 'replicasets');
  const pods = ctx.informers.informerFor<Pod & KubeObject>('', 'v1', 'pods');
  const dClient = ctx.client.resource<DeploymentObj>('apps', 'v1', 'deployments');
  const rsClient = ctx.client.resource<RSObj>('apps', 'v1', 'replicasets');
  const recorder = ctx.recorder(COMPONENT);
  const now = () => Date.now();

  const event = (d: Readonly<Deployment>, type: 'Normal' | 'Warning', reason: string, message: string) =>
    recorder.event({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: d.metadata } as KubeObject, type, reason, message);

  // ---- handlers: only keys go in the queue ------------------------------------------------------

  const deploymentFor = (rs: RS): Readonly<DeploymentObj> | undefined => {
    const ref = controllerOf(rs);
    if (!ref || ref.kind !== 'Deployment') return undefined;
    const d = deployments.get(rs.metadata?.namespace, ref.name);
    return d && d.metadata?.uid === ref.uid ? d : undefined;
  };
  /** Deployments whose selector matches an orphan ReplicaSet's labels (getDeploymentsForReplicaSet). */
  const deploymentsMatching = (rs: RS) =>
    deployments.list(rs.metadata?.namespace).filter((d) => {
      const sel = fromLabelSelector(d.spec?.selector);
      return sel.length > 0 && matches(sel, rs.metadata?.labels);
    });

  deployments.addEventHandler({
    onAdd: (d) => queue.add(keyOf(d)),
    onUpdate: (_o, d) => queue.add(keyOf(d)),
    onDelete: (d) => queue.add(keyOf(d)),
  });
  replicaSets.addEventHandler({
    onAdd: (rs) => {
      if (controllerOf(rs)) {
        const d = deploymentFor(rs);
        if (d) queue.add(keyOf(d));
        return;
      }
      for (const d of deploymentsMatching(rs)) queue.add(keyOf(d));
    },
    onUpdate: (old, rs) => {
      if (old.metadata?.resourceVersion === rs.metadata?.resourceVersion) return;
      const oldRef = controllerOf(old);
      const newRef = controllerOf(rs);
      const refChanged = oldRef?.uid !== newRef?.uid;
      if (refChanged && oldRef) {
        const d = deploymentFor(old);
        if (d) queue.add(keyOf(d));
      }
      if (newRef) {
        const d = deploymentFor(rs);
        if (d) queue.add(keyOf(d));
        return;
      }
      const labelsChanged = JSON.stringify(old.metadata?.labels ?? {}) !== JSON.stringify(rs.metadata?.labels ?? {});
      if (labelsChanged || refChanged) for (const d of deploymentsMatching(rs)) queue.add(keyOf(d));
    },
    onDelete: (rs) => {
      const d = deploymentFor(rs);
      if (d) queue.add(keyOf(d));
    },
  });
  // A Recreate rollout waits for the old pods to be gone.
  pods.addEventHandler({
    onDelete: (p) => {
      const ref = controllerOf(p);
      if (!ref || ref.kind !== 'ReplicaSet') return;
      const rs = replicaSets.get(p.metadata?.namespace, ref.name);
      if (!rs || rs.metadata?.uid !== ref.uid) return;
      const d = deploymentFor(rs);
      if (d && d.spec?.strategy?.type === 'Recreate') queue.add(keyOf(d));
    },
  });

  // ---- reads ----------------------------------------------------------------------------------

  async function replicaSetsFor(d: DeploymentObj): Promise<RS[]> {
    const [ns, name] = [d.metadata!.namespace, d.metadata!.name!];
    return claimChildren<RSObj>({
      owner: ownerOf(d),
      selector: fromLabelSelector(d.spec?.selector),
      candidates: replicaSets.list(ns),
      client: ctx.client,
      group: 'apps',
      version: 'v1',
      plural: 'replicasets',
      canAdopt: async () => {
        const fresh = await dClient.get(ns, name);
        if (fresh.metadata?.uid !== d.metadata?.uid) throw new Error(`original Deployment ${ns}/${name} is gone: got uid ${fresh.metadata?.uid}, wanted ${d.metadata?.uid}`);
        if (fresh.metadata?.deletionTimestamp) throw new Error(`${ns}/${name} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
      },
    });
  }

  /** Pods of the deployment grouped by the UID of their ReplicaSet (getPodMapForDeployment). */
  function podMapFor(d: Readonly<Deployment>, rsList: readonly RS[]): Map<string, Pod[]> {
    const m = new Map<string, Pod[]>(rsList.map((rs) => [rs.metadata!.uid!, []]));
    const sel = fromLabelSelector(d.spec?.selector);
    for (const p of pods.list(d.metadata?.namespace)) {
      if (!matches(sel, p.metadata?.labels)) continue;
      const ref = controllerOf(p);
      if (ref && m.has(ref.uid)) m.get(ref.uid)!.push(p);
    }
    return m;
  }

  // ---- writes ---------------------------------------------------------------------------------

  async function updateStatus(d: DeploymentObj): Promise<void> {
    const updated = await dClient.updateStatus(d);
    // Later writes in this sync start from what the server now has.
    d.metadata = { ...d.metadata, resourceVersion: updated.metadata?.resourceVersion };
  }

  /** scaleReplicaSet: writes a new size and/or fresh desired/max-replicas annotations; records ScalingReplicaSet. */
  async function scaleReplicaSet(rs: RS, newScale: number, d: DeploymentObj, operation: string): Promise<[boolean, RS]> {
    const replicas = specReplicas(d);
    const max = replicas + maxSurge(d);
    const sizeNeedsUpdate = rsReplicas(rs) !== newScale;
    if (!sizeNeedsUpdate && !replicasAnnotationsNeedUpdate(rs, replicas, max)) return [false, rs];
    const oldScale = rsReplicas(rs);
    const copy = structuredClone(rs) as RSObj;
    copy.spec = { ...copy.spec!, replicas: newScale };
    copy.metadata!.annotations ??= {};
    setReplicasAnnotations(copy.metadata!.annotations, replicas, max);
    const updated = await rsClient.update(copy);
    if (sizeNeedsUpdate) event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${operation} replica set ${rs.metadata?.name} from ${oldScale} to ${newScale}`);
    return [sizeNeedsUpdate, updated];
  }

  async function scaleAndRecord(rs: RS, newScale: number, d: DeploymentObj): Promise<[boolean, RS]> {
    if (rsReplicas(rs) === newScale) return [false, rs];
    return scaleReplicaSet(rs, newScale, d, rsReplicas(rs) < newScale ? 'up' : 'down');
  }

  /**
   * getNewReplicaSet: finds the ReplicaSet matching the template and brings its annotations,
   * minReadySeconds and the deployment's revision up to date; creates it when asked to.
   */
  async function newReplicaSetFor(d: DeploymentObj, rsList: RS[], oldRSs: readonly RS[], create: boolean): Promise<RS | undefined> {
    const existing = findNewReplicaSet(d, rsList);
    const newRevision = maxRevision(oldRSs) + 1;
    if (existing) {
      const copy = structuredClone(existing) as RSObj;
      copy.metadata!.annotations ??= {};
      const annotationsUpdated = setNewReplicaSetAnnotations(d, copy.metadata!.annotations, newRevision, true);
      const mrs = d.spec?.minReadySeconds ?? 0;
      if (annotationsUpdated || (copy.spec?.minReadySeconds ?? 0) !== mrs) {
        copy.spec = { ...copy.spec!, minReadySeconds: mrs };
        const updated = await rsClient.update(copy);
        // Later steps of this sync see the written object, not the stale cached one.
        const i = rsList.indexOf(existing);
        if (i >= 0) rsList[i] = updated;
        return updated;
      }
      let needsUpdate = setDeploymentRevision(d, copy.metadata!.annotations[REVISION_ANNOTATION]);
      if (hasProgressDeadline(d) && !getCondition(d.status, 'Progressing')) {
        d.status ??= {};
        setCondition(d.status, newCondition('Progressing', 'True', FOUND_NEW_RS_REASON, `Found new replica set "${copy.metadata?.name}"`, now()));
        needsUpdate = true;
      }
      if (needsUpdate) await updateStatus(d);
      return copy;
    }
    if (!create) return undefined;

    const hash = computeHash(d.spec!.template, d.status?.collisionCount ?? undefined);
    const template = structuredClone(d.spec!.template);
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [POD_TEMPLATE_HASH_LABEL]: hash } };
    const selector: LabelSelector = structuredClone(d.spec!.selector);
    selector.matchLabels = { ...selector.matchLabels, [POD_TEMPLATE_HASH_LABEL]: hash };
    const mrs = d.spec?.minReadySeconds ?? 0;
    const newRS: RSObj = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `${d.metadata!.name}-${hash}`, namespace: d.metadata!.namespace, ownerReferences: [controllerRef(ownerOf(d))], labels: { ...template.metadata.labels }, annotations: {} },
      spec: { replicas: 0, ...(mrs ? { minReadySeconds: mrs } : {}), selector, template },
    };
    const count = newRSNewReplicas(d, [...oldRSs, newRS], newRS);
    newRS.spec!.replicas = count;
    setNewReplicaSetAnnotations(d, newRS.metadata!.annotations!, newRevision, false);

    let created: RS;
    let alreadyExists = false;
    try {
      created = await rsClient.create(newRS);
    } catch (err) {
      if (isAlreadyExists(err)) {
        alreadyExists = true;
        const rs = replicaSets.get(newRS.metadata!.namespace, newRS.metadata!.name!) ?? (await rsClient.get(newRS.metadata!.namespace, newRS.metadata!.name!));
        if (controllerOf(rs)?.uid === d.metadata?.uid && equalIgnoreHash(d.spec?.template, rs.spec?.template)) {
          created = rs;
        } else {
          // A different template hashed to this name: bump collisionCount so the next hash differs.
          d.status ??= {};
          d.status.collisionCount = (d.status.collisionCount ?? 0) + 1;
          await updateStatus(d).then(
            () => log.info({ deployment: keyOf(d), collisionCount: d.status?.collisionCount }, 'Found a hash collision for deployment - bumping collisionCount to resolve it'),
            () => undefined,
          );
          throw err;
        }
      } else if (/is being terminated|NamespaceTerminating/.test((err as Error).message)) {
        throw err;
      } else {
        const msg = `Failed to create new replica set "${newRS.metadata!.name}": ${(err as Error).message}`;
        if (hasProgressDeadline(d)) {
          d.status ??= {};
          setCondition(d.status, newCondition('Progressing', 'False', FAILED_RS_CREATE_REASON, msg, now()));
          await updateStatus(d).catch(() => undefined);
        }
        event(d, 'Warning', FAILED_RS_CREATE_REASON, msg);
        throw err;
      }
    }
    if (!alreadyExists && count > 0) event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata?.name} from 0 to ${count}`);
    let needsUpdate = setDeploymentRevision(d, String(newRevision));
    if (!alreadyExists && hasProgressDeadline(d)) {
      d.status ??= {};
      setCondition(d.status, newCondition('Progressing', 'True', NEW_RS_REASON, `Created new replica set "${created.metadata?.name}"`, now()));
      needsUpdate = true;
    }
    if (needsUpdate) await updateStatus(d);
    return created;
  }

  function setDeploymentRevision(d: DeploymentObj, revision: string | undefined): boolean {
    d.metadata!.annotations ??= {};
    if (d.metadata!.annotations[REVISION_ANNOTATION] === revision) return false;
    if (revision === undefined) delete d.metadata!.annotations[REVISION_ANNOTATION];
    else d.metadata!.annotations[REVISION_ANNOTATION] = revision;
    return true;
  }

  async function allReplicaSetsAndSyncRevision(d: DeploymentObj, rsList: RS[], create: boolean): Promise<{ newRS: RS | undefined; oldRSs: RS[] }> {
    const [, allOld] = findOldReplicaSets(d, rsList);
    const newRS = await newReplicaSetFor(d, rsList, allOld, create);
    return { newRS, oldRSs: allOld };
  }

  async function cleanupDeployment(oldRSs: readonly RS[], d: DeploymentObj): Promise<void> {
    for (const rs of replicaSetsToCleanUp(d, oldRSs)) {
      await rsClient.delete(rs.metadata!.namespace, rs.metadata!.name!).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }

  async function syncDeploymentStatus(allRSs: readonly (RS | undefined)[], newRS: RS | undefined, d: DeploymentObj): Promise<void> {
    const status = calculateStatus(allRSs, newRS, d, now());
    if (sameStatus(d.status, status)) return;
    d.status = status;
    await updateStatus(d);
  }

  async function syncRolloutStatus(allRSs: readonly (RS | undefined)[], newRS: RS | undefined, d: DeploymentObj): Promise<void> {
    const status = rolloutStatus(allRSs, newRS, d, now());
    if (sameStatus(d.status, status)) {
      const after = stuckRequeueAfter(d, status, now());
      if (after === 0) queue.addRateLimited(keyOf(d));
      else if (after !== undefined) queue.addAfter(keyOf(d), after);
      return;
    }
    d.status = status;
    await updateStatus(d);
  }

  // ---- the sync paths of syncDeployment -------------------------------------------------------

  /** sync: a resize or a paused deployment; scale only, then status. */
  async function syncScale(d: DeploymentObj, rsList: RS[]): Promise<void> {
    const { newRS, oldRSs } = await allReplicaSetsAndSyncRevision(d, rsList, false);
    const plan = planScale(d, newRS, oldRSs);
    const updated = new Map<string, RS>();
    for (const step of plan.steps) {
      const [, rs] = plan.proportional ? await scaleReplicaSet(step.rs, step.replicas, d, plan.operation) : await scaleAndRecord(step.rs, step.replicas, d);
      updated.set(rs.metadata!.uid!, rs);
    }
    const fresh = (rs: RS | undefined) => (rs ? (updated.get(rs.metadata!.uid!) ?? rs) : undefined);
    if (d.spec?.paused) await cleanupDeployment(oldRSs.map((rs) => fresh(rs)!), d);
    await syncDeploymentStatus([...oldRSs.map(fresh), fresh(newRS)], fresh(newRS), d);
  }

  async function checkPausedConditions(d: DeploymentObj): Promise<void> {
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, 'Progressing');
    if (cond?.reason === TIMED_OUT_REASON) return;
    const pausedCondExists = cond?.reason === PAUSED_DEPLOY_REASON;
    d.status ??= {};
    if (d.spec?.paused && !pausedCondExists) setCondition(d.status, newCondition('Progressing', 'Unknown', PAUSED_DEPLOY_REASON, 'Deployment is paused', now()));
    else if (!d.spec?.paused && pausedCondExists) setCondition(d.status, newCondition('Progressing', 'Unknown', RESUMED_DEPLOY_REASON, 'Deployment is resumed', now()));
    else return;
    await updateStatus(d);
  }

  async function isScalingEvent(d: DeploymentObj, rsList: RS[]): Promise<boolean> {
    const { newRS, oldRSs } = await allReplicaSetsAndSyncRevision(d, rsList, false);
    for (const rs of filterActive([...oldRSs, newRS])) {
      const desired = rs.metadata?.annotations?.[DESIRED_REPLICAS_ANNOTATION];
      if (desired === undefined || !/^[+-]?\d+$/.test(desired)) continue;
      if (Number(desired) !== specReplicas(d)) return true;
    }
    return false;
  }

  async function rolloutRolling(d: DeploymentObj, rsList: RS[]): Promise<void> {
    const { newRS: maybeNew, oldRSs } = await allReplicaSetsAndSyncRevision(d, rsList, true);
    const newRS = maybeNew!;
    const allRSs = [...oldRSs, newRS];
    // Scale up, if we can.
    const replicas = specReplicas(d);
    if (rsReplicas(newRS) !== replicas) {
      const target = rsReplicas(newRS) > replicas ? replicas : newRSNewReplicas(d, allRSs, newRS);
      const [scaled] = await scaleAndRecord(newRS, target, d);
      if (scaled) return syncRolloutStatus(allRSs, newRS, d);
    }
    // Scale down, if we can.
    if (await reconcileOldReplicaSets(allRSs, filterActive(oldRSs), newRS, d)) return syncRolloutStatus(allRSs, newRS, d);
    if (deploymentComplete(d, d.status ?? {})) await cleanupDeployment(oldRSs, d);
    return syncRolloutStatus(allRSs, newRS, d);
  }

  async function reconcileOldReplicaSets(allRSs: readonly RS[], oldRSs: RS[], newRS: RS, d: DeploymentObj): Promise<boolean> {
    if (sumSpecReplicas(oldRSs) === 0) return false;
    const bound = maxScaledDown(d, allRSs, newRS);
    if (bound <= 0) return false;
    // Unhealthy old replicas go first, else they would block the rollout.
    let cleaned = 0;
    const current = new Map(oldRSs.map((rs) => [rs.metadata!.uid!, rs]));
    for (const step of planUnhealthyCleanup(oldRSs, bound)) {
      const [, rs] = await scaleAndRecord(step.rs, step.replicas, d);
      cleaned += rsReplicas(step.rs) - step.replicas;
      current.set(rs.metadata!.uid!, rs);
    }
    const olds = [...current.values()];
    let scaledDown = 0;
    for (const step of planRollingScaleDown(d, [...olds, newRS], olds)) {
      await scaleAndRecord(step.rs, step.replicas, d);
      scaledDown += rsReplicas(step.rs) - step.replicas;
    }
    return cleaned + scaledDown > 0;
  }

  async function rolloutRecreate(d: DeploymentObj, rsList: RS[]): Promise<void> {
    let { newRS, oldRSs } = await allReplicaSetsAndSyncRevision(d, rsList, false);
    let allRSs: (RS | undefined)[] = [...oldRSs, newRS];
    // Scale down old ReplicaSets.
    let scaledDown = false;
    for (const rs of filterActive(oldRSs)) {
      const [scaled] = await scaleAndRecord(rs, 0, d);
      scaledDown ||= scaled;
    }
    if (scaledDown) return syncRolloutStatus(allRSs, newRS, d);
    // Wait until no old pod runs.
    if (oldPodsRunning(newRS, oldRSs, podMapFor(d, rsList))) return syncRolloutStatus(allRSs, newRS, d);
    if (!newRS) {
      ({ newRS, oldRSs } = await allReplicaSetsAndSyncRevision(d, rsList, true));
      allRSs = [...oldRSs, newRS];
    }
    await scaleAndRecord(newRS!, specReplicas(d), d);
    if (deploymentComplete(d, d.status ?? {})) await cleanupDeployment(oldRSs, d);
    return syncRolloutStatus(allRSs, newRS, d);
  }

  async function sync(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const cached = deployments.get(ns, name);
    if (!cached) return;
    const d = structuredClone(cached) as DeploymentObj;
    d.apiVersion = 'apps/v1';
    d.kind = 'Deployment';
    const sel = d.spec?.selector;
    if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)) {
      event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) {
        d.status = { ...d.status, observedGeneration: d.metadata!.generation! };
        await updateStatus(d);
      }
      return;
    }
    const rsList = await replicaSetsFor(d);
    if (d.metadata?.deletionTimestamp) {
      const { newRS, oldRSs } = await allReplicaSetsAndSyncRevision(d, rsList, false);
      return syncDeploymentStatus([...oldRSs, newRS], newRS, d);
    }
    await checkPausedConditions(d);
    if (d.spec?.paused) return syncScale(d, rsList);
    if (await isScalingEvent(d, rsList)) return syncScale(d, rsList);
    switch (d.spec?.strategy?.type ?? 'RollingUpdate') {
      case 'Recreate':
        return rolloutRecreate(d, rsList);
      case 'RollingUpdate':
        return rolloutRolling(d, rsList);
      default:
        throw new Error(`unexpected deployment strategy type: ${d.spec?.strategy?.type}`);
    }
  }

  return {
    name: DEPLOYMENT_CONTROLLER_NAME,
    run: (signal) =>
      runQueueWorkers(
        {
          name: DEPLOYMENT_CONTROLLER_NAME,
          queue,
          sync: (key) => sync(key),
          workers: ctx.options.concurrentDeploymentSyncs,
          synced: [() => deployments.hasSynced(), () => replicaSets.hasSynced(), () => pods.hasSynced()],
          log,
          maxRetries: MAX_RETRIES,
        },
        signal,
      ),
  };
}

/** oldPodsRunning (Recreate): any old ReplicaSet still reports pods, or any non-terminal pod of one exists. */
export function oldPodsRunning(newRS: RS | undefined, oldRSs: readonly RS[], podMap: ReadonlyMap<string, readonly Pod[]>): boolean {
  if (sumStatusReplicas(oldRSs) > 0) return true;
  for (const [uid, list] of podMap) {
    if (newRS && newRS.metadata?.uid === uid) continue;
    if (list.some((p) => p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded')) return true;
  }
  return false;
}
