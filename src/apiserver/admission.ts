// Admission: one chain of mutating plugins, then validating ones, run on creates and updates
// after defaulting (NamespaceLifecycle runs earlier, in the handlers, before anything is built).
// Plugins: ServiceAccount, DefaultTolerationSeconds, Priority, LimitRanger, RuntimeClass.

import { generateNameSuffix } from './registry.js';
import type { ResourceRequest } from './handlers.js';
import type { ResourceRegistry } from './registry.js';

/** How plugins find the registries they read (resolved at call time). */
export type RegistryLookup = (group: string, plural: string) => ResourceRegistry | undefined;
import { forbidden } from './status.js';
import type { K8sObject } from './watchCache.js';

type Obj = Record<string, any>;

export interface AdmissionPlugin {
  name: string;
  mutate?(req: ResourceRequest, obj: K8sObject, old: K8sObject | undefined): Promise<void> | void;
  validate?(req: ResourceRequest, obj: K8sObject, old: K8sObject | undefined): Promise<void> | void;
}

export function admissionChain(plugins: AdmissionPlugin[]): (req: ResourceRequest, obj: K8sObject, old: K8sObject | undefined) => Promise<void> {
  return async (req, obj, old) => {
    for (const p of plugins) await p.mutate?.(req, obj, old);
    for (const p of plugins) await p.validate?.(req, obj, old);
  };
}

const isPodCreate = (req: ResourceRequest, old: unknown): boolean =>
  req.type.group === '' && req.type.kind === 'Pod' && old === undefined && !req.subresource;

const SA_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Pods run as the `default` ServiceAccount unless told otherwise, with its token projected in. */
export const serviceAccountAdmission: AdmissionPlugin = {
  name: 'ServiceAccount',
  mutate(req, pod, old) {
    if (!isPodCreate(req, old)) return;
    const spec = pod.spec as Obj | undefined;
    if (!spec) return;
    spec.serviceAccountName ||= spec.serviceAccount || 'default';
    spec.serviceAccount = spec.serviceAccountName;
    if (spec.automountServiceAccountToken === false) return;
    const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])] as Obj[];
    if (containers.some((c) => (c.volumeMounts ?? []).some((m: Obj) => m.mountPath === SA_MOUNT))) return;
    const name = `kube-api-access-${generateNameSuffix()}`;
    spec.volumes = [
      ...(spec.volumes ?? []),
      {
        name,
        projected: {
          defaultMode: 0o644,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    ];
    for (const c of containers) c.volumeMounts = [...(c.volumeMounts ?? []), { name, readOnly: true, mountPath: SA_MOUNT }];
  },
};

/** Every pod tolerates not-ready and unreachable nodes for 300 s unless it says otherwise. */
export const defaultTolerationSecondsAdmission: AdmissionPlugin = {
  name: 'DefaultTolerationSeconds',
  mutate(req, pod, old) {
    if (!isPodCreate(req, old) || !pod.spec) return;
    const tolerations = (pod.spec.tolerations ?? []) as Obj[];
    for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
      const has = tolerations.some((t) => (t.key === key || (t.key === undefined && t.operator === 'Exists')) && (t.effect === undefined || t.effect === 'NoExecute'));
      if (!has) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
    }
    pod.spec.tolerations = tolerations;
  },
};

/** Resolves priorityClassName into spec.priority (and preemptionPolicy), refusing unknown classes. */
export function priorityAdmission(registryFor: RegistryLookup): AdmissionPlugin {
  return {
    name: 'Priority',
    async mutate(req, pod, old) {
      if (!isPodCreate(req, old) || !pod.spec) return;
      const name = pod.spec.priorityClassName as string | undefined;
      const classes = registryFor('scheduling.k8s.io', 'priorityclasses')!;
      if (!name) {
        const all = await classes.watchCache().snapshot();
        const global = all.items.find((c) => c.globalDefault === true);
        if (global) {
          pod.spec.priorityClassName = global.metadata.name;
          pod.spec.priority = global.value;
          pod.spec.preemptionPolicy = global.preemptionPolicy ?? 'PreemptLowerPriority';
        } else pod.spec.priority = 0;
        return;
      }
      const pc = await classes.tryGet(undefined, name);
      if (!pc) throw forbidden(`pods "${pod.metadata.name ?? ''}" is forbidden: no PriorityClass with name ${name} was found`);
      pod.spec.priority = pc.value;
      pod.spec.preemptionPolicy = pc.preemptionPolicy ?? 'PreemptLowerPriority';
    },
  };
}

/** Applies the namespace's LimitRange defaults to containers that set no requests/limits. */
export function limitRangerAdmission(registryFor: RegistryLookup): AdmissionPlugin {
  return {
    name: 'LimitRanger',
    async mutate(req, pod, old) {
      if (!isPodCreate(req, old) || !pod.spec) return;
      const ranges = registryFor('', 'limitranges')!;
      const all = await ranges.watchCache().snapshot();
      for (const lr of all.items) {
        if (lr.metadata.namespace !== pod.metadata.namespace) continue;
        for (const limit of (lr.spec?.limits ?? []) as Obj[]) {
          if (limit.type !== 'Container') continue;
          for (const c of [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])] as Obj[]) {
            c.resources ??= {};
            if (limit.default) c.resources.limits = { ...limit.default, ...(c.resources.limits ?? {}) };
            const requests = limit.defaultRequest ?? limit.default;
            if (requests) c.resources.requests = { ...requests, ...(c.resources.limits ?? {}), ...(c.resources.requests ?? {}) };
          }
        }
      }
    },
  };
}

/**
 * RuntimeClass (plugin/pkg/admission/runtimeclass): a pod naming a RuntimeClass gets the class's
 * overhead and scheduling constraints; a missing class rejects the pod at creation.
 */
export function runtimeClassAdmission(registryFor: RegistryLookup): AdmissionPlugin {
  const rejected = (pod: K8sObject, why: string) => forbidden(`pods "${pod.metadata.name ?? ''}" is forbidden: pod rejected: ${why}`);
  return {
    name: 'RuntimeClass',
    async mutate(req, pod, old) {
      if (!isPodCreate(req, old) || !pod.spec) return;
      const name = pod.spec.runtimeClassName as string | undefined;
      if (!name) return;
      const rc = await registryFor('node.k8s.io', 'runtimeclasses')!.tryGet(undefined, name);
      if (!rc || rc.metadata.deletionTimestamp) throw rejected(pod, `RuntimeClass "${name}" not found`);
      const fixed = (rc.overhead as Obj | undefined)?.podFixed as Record<string, string> | undefined;
      if (fixed) {
        if (pod.spec.overhead && JSON.stringify(pod.spec.overhead) !== JSON.stringify(fixed)) throw rejected(pod, "Pod's Overhead doesn't match RuntimeClass's defined Overhead");
        pod.spec.overhead = { ...fixed };
      }
      const scheduling = rc.scheduling as Obj | undefined;
      for (const [k, v] of Object.entries((scheduling?.nodeSelector ?? {}) as Record<string, string>)) {
        const mine = (pod.spec.nodeSelector as Record<string, string> | undefined)?.[k];
        if (mine !== undefined && mine !== v) throw rejected(pod, `conflict: runtimeClass.scheduling.nodeSelector[${k}] = ${v}; pod.spec.nodeSelector[${k}] = ${mine}`);
        pod.spec.nodeSelector = { ...(pod.spec.nodeSelector ?? {}), [k]: v };
      }
      const tolerations = (pod.spec.tolerations ?? []) as Obj[];
      for (const t of (scheduling?.tolerations ?? []) as Obj[]) {
        if (!tolerations.some((x) => JSON.stringify(x) === JSON.stringify(t))) tolerations.push({ ...t });
      }
      if (tolerations.length) pod.spec.tolerations = tolerations;
    },
    validate(req, pod, old) {
      if (!isPodCreate(req, old) || !pod.spec) return;
      if (pod.spec.overhead && !pod.spec.runtimeClassName) throw rejected(pod, 'Pod Overhead set without corresponding RuntimeClass defined Overhead');
    },
  };
}
