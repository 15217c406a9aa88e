// Defaulting as upstream's SetDefaults_* functions do it for the kinds whose defaults users see
// (pods and their templates, workloads, services, namespaces). Pure: they edit the given object.

type Obj = Record<string, any>;

function podSpecDefaults(spec: Obj | undefined): void {
  if (!spec) return;
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])] as Obj[]) containerDefaults(c);
  for (const v of (spec.volumes ?? []) as Obj[]) {
    if (v.configMap) v.configMap.defaultMode ??= 0o644;
    if (v.secret) v.secret.defaultMode ??= 0o644;
    if (v.projected) v.projected.defaultMode ??= 0o644;
    if (v.downwardAPI) v.downwardAPI.defaultMode ??= 0o644;
    if (v.hostPath) v.hostPath.type ??= '';
    if (v.emptyDir === null) v.emptyDir = {};
  }
}

function containerDefaults(c: Obj): void {
  if (!c || typeof c !== 'object') return;
  if (c.imagePullPolicy === undefined && typeof c.image === 'string') {
    const ref = c.image.split('@')[0] as string;
    const lastSlash = ref.lastIndexOf('/');
    const tagAt = ref.lastIndexOf(':');
    const tag = tagAt > lastSlash ? ref.slice(tagAt + 1) : '';
    c.imagePullPolicy = tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
  }
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  for (const p of (c.ports ?? []) as Obj[]) p.protocol ??= 'TCP';
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe] as Array<Obj | undefined>) {
    if (!probe) continue;
    probe.timeoutSeconds ??= 1;
    probe.periodSeconds ??= 10;
    probe.successThreshold ??= 1;
    probe.failureThreshold ??= 3;
    if (probe.httpGet) probe.httpGet.scheme ??= 'HTTP';
    if (probe.httpGet) probe.httpGet.path ??= '/';
  }
  for (const e of (c.env ?? []) as Obj[]) {
    if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1';
  }
}

function templateDefaults(template: Obj | undefined): void {
  if (template) podSpecDefaults(template.spec);
}

function replicasDefault(spec: Obj | undefined): void {
  if (spec) spec.replicas ??= 1;
}

/** Upstream defaults for `group/kind`; unknown kinds are left alone. */
export function applyDefaults(group: string, kind: string, obj: Obj): void {
  const spec = obj.spec as Obj | undefined;
  switch (`${group}/${kind}`) {
    case '/Pod':
      if (spec) {
        podSpecDefaults(spec);
        // Only pods get this default (templates keep the field unset, which their hashes depend on).
        spec.enableServiceLinks ??= true;
        spec.priority ??= 0;
        spec.preemptionPolicy ??= 'PreemptLowerPriority';
      }
      break;
    case '/PodTemplate':
      templateDefaults(obj.template);
      break;
    case '/ReplicationController':
      replicasDefault(spec);
      templateDefaults(spec?.template);
      if (spec?.template?.metadata?.labels) spec.selector ??= { ...spec.template.metadata.labels };
      break;
    case 'apps/Deployment':
      if (spec) {
        replicasDefault(spec);
        spec.revisionHistoryLimit ??= 10;
        spec.progressDeadlineSeconds ??= 600;
        spec.strategy ??= { type: 'RollingUpdate' };
        if (spec.strategy.type === undefined) spec.strategy.type = 'RollingUpdate';
        if (spec.strategy.type === 'RollingUpdate') {
          spec.strategy.rollingUpdate ??= {};
          spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
          spec.strategy.rollingUpdate.maxSurge ??= '25%';
        }
        templateDefaults(spec.template);
      }
      break;
    case 'apps/ReplicaSet':
      replicasDefault(spec);
      templateDefaults(spec?.template);
      break;
    case 'apps/StatefulSet':
      if (spec) {
        replicasDefault(spec);
        spec.podManagementPolicy ??= 'OrderedReady';
        spec.revisionHistoryLimit ??= 10;
        spec.updateStrategy ??= { type: 'RollingUpdate' };
        if (spec.updateStrategy.type === 'RollingUpdate') spec.updateStrategy.rollingUpdate ??= { partition: 0 };
        spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
        templateDefaults(spec.template);
      }
      break;
    case 'apps/DaemonSet':
      if (spec) {
        spec.revisionHistoryLimit ??= 10;
        spec.updateStrategy ??= { type: 'RollingUpdate' };
        if (spec.updateStrategy.type === 'RollingUpdate') {
          spec.updateStrategy.rollingUpdate ??= {};
          spec.updateStrategy.rollingUpdate.maxUnavailable ??= 1;
          spec.updateStrategy.rollingUpdate.maxSurge ??= 0;
        }
        templateDefaults(spec.template);
      }
      break;
    case 'batch/Job':
      if (spec) {
        // Both unset: a one-pod job. Only parallelism set: a work queue, completions stay unset.
        if (spec.completions === undefined && spec.parallelism === undefined) spec.completions = 1;
        spec.parallelism ??= 1;
        spec.backoffLimit ??= 6;
        spec.completionMode ??= 'NonIndexed';
        spec.suspend ??= false;
        spec.podReplacementPolicy ??= 'TerminatingOrFailed';
        if (spec.manualSelector !== true) spec.manualSelector = undefined;
        templateDefaults(spec.template);
      }
      break;
    case 'batch/CronJob':
      if (spec) {
        spec.concurrencyPolicy ??= 'Allow';
        spec.suspend ??= false;
        spec.successfulJobsHistoryLimit ??= 3;
        spec.failedJobsHistoryLimit ??= 1;
        templateDefaults(spec.jobTemplate?.spec?.template);
      }
      break;
    case '/Service':
      // Upstream's SetDefaults_Service. ipFamilies/ipFamilyPolicy are the allocator's (they depend
      // on the cluster's ranges and on create vs update), not defaults.
      if (spec) {
        spec.sessionAffinity ||= 'None';
        if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
        if (spec.sessionAffinity === 'ClientIP' && typeof spec.sessionAffinityConfig?.clientIP?.timeoutSeconds !== 'number') {
          spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
        }
        spec.type ||= 'ClusterIP';
        for (const p of (spec.ports ?? []) as Obj[]) {
          if (!p || typeof p !== 'object') continue;
          p.protocol ||= 'TCP';
          if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
        }
        const externallyAccessible = spec.type === 'LoadBalancer' || spec.type === 'NodePort' || (spec.type === 'ClusterIP' && (spec.externalIPs ?? []).length > 0);
        if (externallyAccessible && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = 'Cluster';
        if ((spec.internalTrafficPolicy === undefined || spec.internalTrafficPolicy === null) && ['NodePort', 'LoadBalancer', 'ClusterIP'].includes(spec.type)) {
          spec.internalTrafficPolicy = 'Cluster';
        }
        if (spec.type === 'LoadBalancer' && (spec.allocateLoadBalancerNodePorts === undefined || spec.allocateLoadBalancerNodePorts === null)) {
          spec.allocateLoadBalancerNodePorts = true;
        }
      }
      break;
    case '/Namespace':
      obj.spec ??= {};
      obj.status ??= {};
      obj.status.phase ??= 'Active';
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
      break;
    case '/Secret':
      obj.type ??= 'Opaque';
      break;
    case '/PersistentVolumeClaim':
      if (spec) spec.volumeMode ??= 'Filesystem';
      break;
    case '/PersistentVolume':
      if (spec) {
        spec.persistentVolumeReclaimPolicy ??= 'Retain';
        spec.volumeMode ??= 'Filesystem';
      }
      break;
    case 'scheduling.k8s.io/PriorityClass':
      obj.preemptionPolicy ??= 'PreemptLowerPriority';
      break;
    case 'policy/PodDisruptionBudget':
      break;
    case 'networking.k8s.io/NetworkPolicy':
      // Upstream SetDefaults_NetworkPolicySpec: an empty list counts as unset, and an empty egress list adds no Egress.
      if (spec && !(Array.isArray(spec.policyTypes) && spec.policyTypes.length > 0)) {
        spec.policyTypes = ['Ingress', ...(Array.isArray(spec.egress) && spec.egress.length > 0 ? ['Egress'] : [])];
      }
      // Ports default to TCP, as upstream's SetDefaults_NetworkPolicyPort.
      for (const dir of ['ingress', 'egress']) {
        for (const rule of (Array.isArray(spec?.[dir]) ? spec[dir] : []) as { ports?: { protocol?: string }[] }[]) {
          for (const port of rule.ports ?? []) port.protocol ??= 'TCP';
        }
      }
      break;
  }
}
