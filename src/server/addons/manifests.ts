// The cluster add-ons `k8ts server` deploys, as objects (pure): the `k8ts` RuntimeClass, cluster DNS
// (kubeadm's CoreDNS objects: ServiceAccount, RBAC, the `coredns` ConfigMap and Deployment, the
// `kube-dns` Service on the 10th address of the service range) and kube-proxy (its ServiceAccount,
// RBAC, the `kube-proxy` ConfigMap with config.conf and kubeconfig.conf, and the DaemonSet). The
// containers run k8ts's own DNS server and proxy from the built-in image, with RuntimeClass `k8ts`,
// so they need no image pull and run with the built-in process runtime on every node.
import { defaultCorefile } from '../../network/dns/corefile.js';
import type { DaemonSet, Deployment } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, Service, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import type { ClusterRole, ClusterRoleBinding } from 'kubernetes-types/rbac/v1.js';
import { stringify } from 'yaml';
import { formatIP, parseCIDR } from '../../controllers/nodeipam/cidrSet.js';

/** The add-ons of this file; `runtimeclass` is always deployed (the others' pods name it). */
export const ADDON_NAMES = ['runtimeclass', 'coredns', 'kube-proxy'] as const;
export type AddonName = (typeof ADDON_NAMES)[number];

/** Every add-on object says which add-on it belongs to, and how the server keeps it. */
export const ADDON_LABEL = 'k8ts.io/addon';
/**
 * As the Kubernetes add-on manager: `Reconcile` objects are applied as declared at every server
 * start and re-created when deleted; `EnsureExists` objects (the ConfigMaps users tune: Corefile,
 * kube-proxy's config.conf) are created when missing and otherwise left as users edited them.
 */
export const ADDON_MODE_LABEL = 'addonmanager.kubernetes.io/mode';
export type AddonMode = 'Reconcile' | 'EnsureExists';

/** The RuntimeClass whose handler runs pods with the built-in process runtime on every node. */
export const K8TS_RUNTIME_CLASS = 'k8ts';

export type AddonObject = RuntimeClass | ServiceAccount | ClusterRole | ClusterRoleBinding | ConfigMap | Service | Deployment | DaemonSet;

export interface AddonConfig {
  /** The built-in image reference (`k8ts.io/k8ts:v<version>`). */
  image: string;
  clusterDomain: string;
  /** The cluster DNS Service IP (kube-dns). */
  dnsServiceIP: string;
  /** The pod network (kube-proxy's clusterCIDR). */
  clusterCIDR: string;
  /** `https://<advertise address>:<port>`: what kube-proxy's kubeconfig.conf points at. */
  apiServerURL: string;
  /** KubeProxyConfiguration `mode`; iptables unless told otherwise. */
  proxyMode?: 'iptables' | 'nftables' | 'ipvs';
  /** CoreDNS replicas: kubeadm runs 2; a single-node server runs 1 (two on one node add nothing but memory). */
  corednsReplicas?: number;
}

/** The n-th address of a CIDR (n = 1: the `kubernetes` Service, n = 10: cluster DNS, as kubeadm computes them). */
export function nthAddress(cidr: string, n: number): string {
  const c = parseCIDR(cidr);
  const size = 1n << BigInt(c.bits - c.prefix);
  if (BigInt(n) >= size) throw new Error(`the service range ${cidr} has no ${n}th address`);
  return formatIP(c.ip + BigInt(n), c.bits);
}

/** kubeadm's DNS address: the 10th address of the (first) service CIDR. */
export function clusterDNSAddress(serviceCIDR: string): string {
  return nthAddress(serviceCIDR.split(',')[0]!.trim(), 10);
}

const SYSTEM = 'kube-system';
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function meta(addon: AddonName, name: string, namespaced: boolean, labels: Record<string, string> = {}, annotations?: Record<string, string>, mode: AddonMode = 'Reconcile') {
  return {
    name,
    ...(namespaced ? { namespace: SYSTEM } : {}),
    labels: { ...labels, [ADDON_LABEL]: addon, [ADDON_MODE_LABEL]: mode },
    ...(annotations ? { annotations } : {}),
  };
}

export function runtimeClassObjects(): AddonObject[] {
  const rc: RuntimeClass = { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: meta('runtimeclass', K8TS_RUNTIME_CLASS, false), handler: K8TS_RUNTIME_CLASS };
  return [rc];
}

export function corednsObjects(cfg: AddonConfig): AddonObject[] {
  const labels = { 'k8s-app': 'kube-dns' };
  const sa: ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('coredns', 'coredns', true) };
  const role: ClusterRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: meta('coredns', 'system:coredns', false),
    rules: [
      { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ],
  };
  const binding: ClusterRoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta('coredns', 'system:coredns', false),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
    subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: SYSTEM }],
  };
  const cm: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('coredns', 'coredns', true, {}, undefined, 'EnsureExists'), data: { Corefile: defaultCorefile(cfg.clusterDomain) } };
  const deployment: Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('coredns', 'coredns', true, labels),
    spec: {
      replicas: cfg.corednsReplicas ?? 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          priorityClassName: 'system-cluster-critical',
          serviceAccountName: 'coredns',
          runtimeClassName: K8TS_RUNTIME_CLASS,
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: { labelSelector: { matchExpressions: [{ key: 'k8s-app', operator: 'In', values: ['kube-dns'] }] }, topologyKey: 'kubernetes.io/hostname' } },
              ],
            },
          },
          tolerations: [
            { key: 'CriticalAddonsOnly', operator: 'Exists' },
            { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
          ],
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          containers: [
            {
              name: 'coredns',
              image: cfg.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['k8ts', 'dns'],
              args: ['--conf', '/etc/coredns/Corefile'],
              resources: { limits: { memory: '170Mi' }, requests: { cpu: '100m', memory: '70Mi' } },
              volumeMounts: [{ name: 'config-volume', mountPath: '/etc/coredns', readOnly: true }],
              ports: [
                { containerPort: 53, name: 'dns', protocol: 'UDP' },
                { containerPort: 53, name: 'dns-tcp', protocol: 'TCP' },
                { containerPort: 9153, name: 'metrics', protocol: 'TCP' },
              ],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] }, readOnlyRootFilesystem: true },
              livenessProbe: { httpGet: { path: '/health', port: 8080, scheme: 'HTTP' }, initialDelaySeconds: 60, timeoutSeconds: 5, successThreshold: 1, failureThreshold: 5 },
              readinessProbe: { httpGet: { path: '/ready', port: 8181, scheme: 'HTTP' } },
            },
          ],
          dnsPolicy: 'Default',
          volumes: [{ name: 'config-volume', configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }] } }],
        },
      },
    },
  };
  const service: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('coredns', 'kube-dns', true, { ...labels, 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' }, { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' }),
    spec: {
      clusterIP: cfg.dnsServiceIP,
      selector: labels,
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
      ],
    },
  };
  return [sa, role, binding, cm, deployment, service];
}

/** kube-proxy's config.conf: a KubeProxyConfiguration as kubeadm writes it (empty values take kube-proxy's defaults). */
export function kubeProxyConfiguration(cfg: AddonConfig): string {
  const doc = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    bindAddress: '0.0.0.0',
    bindAddressHardFail: false,
    clientConnection: { acceptContentTypes: '', burst: 0, contentType: '', kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf', qps: 0 },
    clusterCIDR: cfg.clusterCIDR,
    configSyncPeriod: '0s',
    conntrack: { maxPerCore: null, min: null, tcpBeLiberal: false, tcpCloseWaitTimeout: null, tcpEstablishedTimeout: null, udpStreamTimeout: '0s', udpTimeout: '0s' },
    detectLocal: { bridgeInterface: '', interfaceNamePrefix: '' },
    detectLocalMode: '',
    enableProfiling: false,
    healthzBindAddress: '',
    hostnameOverride: '',
    iptables: { localhostNodePorts: null, masqueradeAll: false, masqueradeBit: null, minSyncPeriod: '0s', syncPeriod: '0s' },
    ipvs: { excludeCIDRs: null, minSyncPeriod: '0s', scheduler: '', strictARP: false, syncPeriod: '0s', tcpFinTimeout: '0s', tcpTimeout: '0s', udpTimeout: '0s' },
    metricsBindAddress: '',
    mode: cfg.proxyMode ?? 'iptables',
    nftables: { masqueradeAll: false, masqueradeBit: null, minSyncPeriod: '0s', syncPeriod: '0s' },
    nodePortAddresses: null,
    oomScoreAdj: null,
    portRange: '',
    showHiddenMetricsForVersion: '',
  };
  return stringify(doc, { nullStr: 'null' });
}

/** kube-proxy's kubeconfig.conf: the API server's advertised address, the pod's service-account token and CA, as kubeadm's. */
export function kubeProxyKubeconfig(cfg: AddonConfig): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ cluster: { 'certificate-authority': `${SA_DIR}/ca.crt`, server: cfg.apiServerURL }, name: 'default' }],
    contexts: [{ context: { cluster: 'default', namespace: 'default', user: 'default' }, name: 'default' }],
    'current-context': 'default',
    users: [{ name: 'default', user: { tokenFile: `${SA_DIR}/token` } }],
  });
}

export function kubeProxyObjects(cfg: AddonConfig): AddonObject[] {
  const labels = { 'k8s-app': 'kube-proxy' };
  const sa: ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('kube-proxy', 'kube-proxy', true) };
  const binding: ClusterRoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta('kube-proxy', 'kubeadm:node-proxier', false),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node-proxier' },
    subjects: [{ kind: 'ServiceAccount', name: 'kube-proxy', namespace: SYSTEM }],
  };
  const cm: ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta('kube-proxy', 'kube-proxy', true, { app: 'kube-proxy' }, undefined, 'EnsureExists'),
    data: { 'config.conf': kubeProxyConfiguration(cfg), 'kubeconfig.conf': kubeProxyKubeconfig(cfg) },
  };
  const ds: DaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta('kube-proxy', 'kube-proxy', true, labels),
    spec: {
      selector: { matchLabels: labels },
      updateStrategy: { type: 'RollingUpdate' },
      template: {
        metadata: { labels },
        spec: {
          runtimeClassName: K8TS_RUNTIME_CLASS,
          containers: [
            {
              name: 'kube-proxy',
              image: cfg.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['k8ts', 'proxy', '--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)'],
              securityContext: { privileged: true },
              volumeMounts: [
                { mountPath: '/var/lib/kube-proxy', name: 'kube-proxy' },
                { mountPath: '/run/xtables.lock', name: 'xtables-lock', readOnly: false },
                { mountPath: '/lib/modules', name: 'lib-modules', readOnly: true },
              ],
              env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
            },
          ],
          hostNetwork: true,
          serviceAccountName: 'kube-proxy',
          volumes: [
            { name: 'kube-proxy', configMap: { name: 'kube-proxy' } },
            { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
            { name: 'lib-modules', hostPath: { path: '/lib/modules' } },
          ],
          tolerations: [{ operator: 'Exists' }],
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          priorityClassName: 'system-node-critical',
        },
      },
    },
  };
  return [sa, binding, cm, ds];
}

/** The objects of each enabled add-on, in the order they are applied (the RuntimeClass before the pods that name it). */
export function addonObjects(cfg: AddonConfig, disabled: ReadonlySet<string> = new Set()): Map<AddonName, AddonObject[]> {
  const out = new Map<AddonName, AddonObject[]>();
  out.set('runtimeclass', runtimeClassObjects());
  if (!disabled.has('coredns')) out.set('coredns', corednsObjects(cfg));
  if (!disabled.has('kube-proxy')) out.set('kube-proxy', kubeProxyObjects(cfg));
  return out;
}
