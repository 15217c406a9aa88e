// The selector upstream's helper.DefaultSelector derives for a pod from the Services that select it
// and the ReplicationController/ReplicaSet/StatefulSet that controls it (used by default spreading).

import type { Pod } from 'kubernetes-types/core/v1.js';
import { fromLabelSelector, matches, type Requirement } from '../../../api/labels.js';
import type { FrameworkHandle } from '../../framework/types.js';

type Listers = Pick<FrameworkHandle, 'services' | 'replicationControllers' | 'replicaSets' | 'statefulSets'>;

function setRequirements(set: Readonly<Record<string, string>>): Requirement[] {
  return Object.entries(set)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, v]) => ({ key, op: 'Equals' as const, values: [v] }));
}

/**
 * The requirements every pod of the same Services and controller has. Empty means "no selector":
 * the caller then applies no default constraint.
 */
export function defaultSelector(pod: Readonly<Pod>, listers: Listers): Requirement[] {
  const ns = pod.metadata?.namespace ?? '';
  const labelSet: Record<string, string> = {};
  for (const svc of listers.services.list(ns)) {
    const sel = svc.spec?.selector;
    if (!sel) continue;
    if (matches(setRequirements(sel), pod.metadata?.labels)) Object.assign(labelSet, sel);
  }
  let reqs = setRequirements(labelSet);
  const owner = (pod.metadata?.ownerReferences ?? []).find((o) => o.controller === true);
  if (!owner) return reqs;
  if (owner.apiVersion === 'v1' && owner.kind === 'ReplicationController') {
    const rc = listers.replicationControllers.get(ns, owner.name);
    if (rc) reqs = setRequirements({ ...labelSet, ...(rc.spec?.selector ?? {}) });
  } else if (owner.apiVersion === 'apps/v1' && owner.kind === 'ReplicaSet') {
    const rs = listers.replicaSets.get(ns, owner.name);
    if (rs) reqs = [...reqs, ...fromLabelSelector(rs.spec?.selector)];
  } else if (owner.apiVersion === 'apps/v1' && owner.kind === 'StatefulSet') {
    const ss = listers.statefulSets.get(ns, owner.name);
    if (ss) reqs = [...reqs, ...fromLabelSelector(ss.spec?.selector)];
  }
  return reqs;
}
