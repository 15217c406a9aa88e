// Small fakes for scheduler core tests: a pod-count "capacity" filter (a node's label `slots` says
// how many pods fit), a taint-like unresolvable filter, a recording API, and builders.
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { SchedulerAPI } from '../../../src/scheduler/api.js';
import type { ProfileConfig } from '../../../src/scheduler/framework/runtime.js';
import { ActionType, unresolvable, unschedulable, type FilterPlugin, type FrameworkHandle, type EnqueueExtensions, type PluginFactory, type QueueSortPlugin, type BindPlugin, type ScorePlugin, type NodeInfoLister } from '../../../src/scheduler/framework/types.js';
import type { Lister } from '../../../src/client/lister.js';

let uid = 0;
export function pod(name: string, opts: { priority?: number; ns?: string; labels?: Record<string, string>; nodeName?: string; schedulerName?: string; created?: string } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: opts.ns ?? 'default', uid: `uid-${name}-${++uid}`, labels: opts.labels, creationTimestamp: opts.created ?? '2026-01-01T00:00:00Z' },
    spec: { containers: [{ name: 'c', image: 'busybox' }], priority: opts.priority ?? 0, nodeName: opts.nodeName, schedulerName: opts.schedulerName },
  };
}

export function node(name: string, slots: number, opts: { unresolvable?: boolean } = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { slots: String(slots), ...(opts.unresolvable ? { blocked: 'yes' } : {}) } },
    status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' } },
  };
}

export const Slots: PluginFactory = {
  name: 'Slots',
  create() {
    const p: FilterPlugin & EnqueueExtensions & ScorePlugin = {
      name: 'Slots',
      filter(_s, _pod, ni) {
        const slots = Number(ni.node?.metadata?.labels?.['slots'] ?? 0);
        return ni.pods.length >= slots ? unschedulable('Too many slots used') : undefined;
      },
      score(_s, _pod, ni) {
        const slots = Number(ni.node?.metadata?.labels?.['slots'] ?? 0);
        return Math.max(0, Math.min(100, (slots - ni.pods.length) * 10));
      },
      eventsToRegister: () => [{ event: { resource: 'Node', actionType: ActionType.Add } }, { event: { resource: 'AssignedPod', actionType: ActionType.Delete } }],
    };
    return p;
  },
};

export const Blocked: PluginFactory = {
  name: 'Blocked',
  create() {
    const p: FilterPlugin & EnqueueExtensions = {
      name: 'Blocked',
      filter(_s, _pod, ni) {
        return ni.node?.metadata?.labels?.['blocked'] ? unresolvable('node(s) were blocked') : undefined;
      },
      eventsToRegister: () => [{ event: { resource: 'Node', actionType: ActionType.UpdateNodeLabel } }],
    };
    return p;
  },
};

export const Sort: PluginFactory = {
  name: 'PrioritySort',
  create() {
    const p: QueueSortPlugin = {
      name: 'PrioritySort',
      less: (a, b) => (a.pod.spec?.priority ?? 0) > (b.pod.spec?.priority ?? 0) || ((a.pod.spec?.priority ?? 0) === (b.pod.spec?.priority ?? 0) && a.timestamp < b.timestamp),
    };
    return p;
  },
};

export interface RecordedEvent {
  regarding: string;
  type: string;
  reason: string;
  note: string;
}

export class RecordingAPI implements SchedulerAPI {
  readonly bound: Array<{ pod: string; node: string }> = [];
  readonly deleted: string[] = [];
  readonly events: RecordedEvent[] = [];
  readonly statusPatches: Array<{ pod: string; condition?: unknown; nominated?: string | null }> = [];
  failBind = false;
  async bind(p: Readonly<Pod>, nodeName: string): Promise<void> {
    if (this.failBind) throw new Error('binding refused');
    this.bound.push({ pod: p.metadata!.name!, node: nodeName });
  }
  async patchPodStatus(p: Readonly<Pod>, condition: unknown, nominated: string | null | undefined): Promise<void> {
    this.statusPatches.push({ pod: p.metadata!.name!, condition, nominated });
  }
  async deletePod(p: Readonly<Pod>): Promise<void> {
    this.deleted.push(p.metadata!.name!);
  }
  event(regarding: Readonly<Pod>, _related: Readonly<Pod> | undefined, type: 'Normal' | 'Warning', reason: string, _action: string, note: string): void {
    this.events.push({ regarding: regarding.metadata!.name!, type, reason, note });
  }
}

export function binderFor(api: SchedulerAPI): PluginFactory {
  return {
    name: 'DefaultBinder',
    create() {
      const p: BindPlugin = { name: 'DefaultBinder', bind: async (_s, pd, n) => (await api.bind(pd, n), undefined) };
      return p;
    },
  };
}

export function arrayLister<T extends { metadata?: { name?: string; namespace?: string } }>(items: T[] = []): Lister<T> {
  return {
    get: (ns, name) => items.find((i) => (i.metadata?.namespace ?? '') === (ns ?? '') && i.metadata?.name === name),
    list: (ns) => (ns === undefined ? items : items.filter((i) => i.metadata?.namespace === ns)),
  };
}

export function handleFor(snapshot: NodeInfoLister, pdbs: Lister<import('kubernetes-types/policy/v1.js').PodDisruptionBudget> = arrayLister()): FrameworkHandle {
  return {
    snapshot: () => snapshot,
    namespaces: arrayLister(),
    services: arrayLister(),
    replicationControllers: arrayLister(),
    replicaSets: arrayLister(),
    statefulSets: arrayLister(),
    persistentVolumeClaims: arrayLister(),
    persistentVolumes: arrayLister(),
    storageClasses: arrayLister(),
    csiNodes: arrayLister(),
    podDisruptionBudgets: pdbs,
  };
}

export function profile(plugins: string[], extra: Partial<ProfileConfig> = {}): ProfileConfig {
  return { schedulerName: 'default-scheduler', multiPoint: plugins.map((name) => ({ name })), points: {}, pluginArgs: new Map(), ...extra };
}
