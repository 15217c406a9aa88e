// The add-on objects `k8ts server` deploys (kubeadm's CoreDNS and kube-proxy, run from the built-in
// image), what the add-on manager does with each, and the privileged capability set.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import type { DaemonSet, Deployment } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, Service } from 'kubernetes-types/core/v1.js';
import { addonObjects, clusterDNSAddress, nthAddress, type AddonConfig, type AddonObject } from '../../../src/server/addons/manifests.js';
import { addonAction } from '../../../src/server/addons/addonManager.js';
import { ALL_CAPABILITIES, capabilitiesFromMask } from '../../../src/kubelet/runtime/process/ociSpec.js';

const cfg: AddonConfig = {
  image: 'k8ts.io/k8ts:v1.2.3',
  clusterDomain: 'cluster.local',
  dnsServiceIP: '10.96.0.10',
  clusterCIDR: '10.244.0.0/16',
  apiServerURL: 'https://192.0.2.10:6443',
};
const find = <T extends AddonObject>(objs: AddonObject[] | undefined, kind: string, name: string) => objs?.find((o) => o.kind === kind && o.metadata?.name === name) as T;

describe('service range addresses', () => {
  const cases: { name: string; cidr: string; n: number; want: string }[] = [
    { name: 'the default range puts cluster DNS on 10.96.0.10', cidr: '10.96.0.0/12', n: 10, want: '10.96.0.10' },
    { name: 'the kubernetes Service is the first address', cidr: '10.96.0.0/12', n: 1, want: '10.96.0.1' },
    { name: 'a /24 elsewhere', cidr: '172.20.5.0/24', n: 10, want: '172.20.5.10' },
    { name: 'an IPv6 range', cidr: 'fd00:10:96::/112', n: 10, want: 'fd00:10:96::a' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(nthAddress(c.cidr, c.n), c.want));
  it('takes the first range of a dual-stack pair for cluster DNS', () => assert.equal(clusterDNSAddress('10.43.0.0/16,fd00::/108'), '10.43.0.10'));
  it('refuses a range too small to have the address', () => assert.throws(() => nthAddress('10.0.0.0/30', 10), /no 10th address/));
});

describe('addonObjects', () => {
  const all = addonObjects(cfg);

  it('deploys the RuntimeClass k8ts first, always, even with everything disabled', () => {
    assert.deepEqual([...all.keys()], ['runtimeclass', 'coredns', 'kube-proxy']);
    const none = addonObjects(cfg, new Set(['coredns', 'kube-proxy']));
    assert.deepEqual([...none.keys()], ['runtimeclass']);
    assert.deepEqual(none.get('runtimeclass')![0], {
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: 'k8ts', labels: { 'k8ts.io/addon': 'runtimeclass', 'addonmanager.kubernetes.io/mode': 'Reconcile' } },
      handler: 'k8ts',
    });
  });

  it('runs coredns as kubeadm does, from the built-in image with RuntimeClass k8ts and one replica', () => {
    const d = find<Deployment>(all.get('coredns'), 'Deployment', 'coredns');
    assert.equal(d.metadata?.namespace, 'kube-system');
    assert.equal(d.metadata?.labels?.['k8s-app'], 'kube-dns');
    assert.equal(d.spec?.replicas, 1);
    const pod = d.spec!.template.spec!;
    assert.equal(pod.runtimeClassName, 'k8ts');
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.equal(pod.dnsPolicy, 'Default');
    assert.equal(pod.serviceAccountName, 'coredns');
    assert.ok(pod.tolerations?.some((t) => t.key === 'node-role.kubernetes.io/control-plane' && t.effect === 'NoSchedule'));
    const c = pod.containers[0]!;
    assert.equal(c.image, 'k8ts.io/k8ts:v1.2.3');
    assert.deepEqual([...(c.command ?? []), ...(c.args ?? [])], ['k8ts', 'dns', '--conf', '/etc/coredns/Corefile']);
    assert.deepEqual(c.resources, { limits: { memory: '170Mi' }, requests: { cpu: '100m', memory: '70Mi' } });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/ready', port: 8181, scheme: 'HTTP' });
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/health', port: 8080, scheme: 'HTTP' });
    assert.deepEqual(c.ports?.map((p) => `${p.name}:${p.containerPort}/${p.protocol}`), ['dns:53/UDP', 'dns-tcp:53/TCP', 'metrics:9153/TCP']);
  });

  it('puts kube-dns on the given cluster IP with ports dns, dns-tcp and metrics', () => {
    const s = find<Service>(all.get('coredns'), 'Service', 'kube-dns');
    assert.equal(s.spec?.clusterIP, '10.96.0.10');
    assert.deepEqual(s.spec?.selector, { 'k8s-app': 'kube-dns' });
    assert.deepEqual(s.spec?.ports?.map((p) => `${p.name} ${p.port}/${p.protocol}`), ['dns 53/UDP', 'dns-tcp 53/TCP', 'metrics 9153/TCP']);
  });

  it('writes the Corefile for the cluster domain into the coredns ConfigMap, created once and left to users', () => {
    const cm = find<ConfigMap>(all.get('coredns'), 'ConfigMap', 'coredns');
    assert.match(cm.data!.Corefile!, /kubernetes cluster\.local in-addr\.arpa ip6\.arpa \{/);
    assert.equal(cm.metadata?.labels?.['addonmanager.kubernetes.io/mode'], 'EnsureExists');
  });

  it('gives kube-proxy a KubeProxyConfiguration with mode iptables and the cluster CIDR, and a kubeconfig with the pod\'s token', () => {
    const cm = find<ConfigMap>(all.get('kube-proxy'), 'ConfigMap', 'kube-proxy');
    const conf = parse(cm.data!['config.conf']!) as Record<string, unknown>;
    assert.equal(conf.kind, 'KubeProxyConfiguration');
    assert.equal(conf.apiVersion, 'kubeproxy.config.k8s.io/v1alpha1');
    assert.equal(conf.mode, 'iptables');
    assert.equal(conf.clusterCIDR, '10.244.0.0/16');
    assert.equal((conf.clientConnection as Record<string, unknown>).kubeconfig, '/var/lib/kube-proxy/kubeconfig.conf');
    assert.match(cm.data!['config.conf']!, /^mode: iptables$/m);
    const kc = parse(cm.data!['kubeconfig.conf']!) as { clusters: { cluster: Record<string, string> }[]; users: { user: Record<string, string> }[] };
    assert.equal(kc.clusters[0]!.cluster.server, 'https://192.0.2.10:6443');
    assert.equal(kc.clusters[0]!.cluster['certificate-authority'], '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
    assert.equal(kc.users[0]!.user.tokenFile, '/var/run/secrets/kubernetes.io/serviceaccount/token');
    assert.equal(parse(find<ConfigMap>(addonObjects({ ...cfg, proxyMode: 'nftables' }).get('kube-proxy'), 'ConfigMap', 'kube-proxy').data!['config.conf']!).mode, 'nftables');
  });

  it('runs kube-proxy as a privileged host-network DaemonSet on every node', () => {
    const ds = find<DaemonSet>(all.get('kube-proxy'), 'DaemonSet', 'kube-proxy');
    const pod = ds.spec!.template.spec!;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.runtimeClassName, 'k8ts');
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    const c = pod.containers[0]!;
    assert.deepEqual(c.command, ['k8ts', 'proxy', '--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)']);
    assert.equal(c.securityContext?.privileged, true);
    assert.deepEqual(c.env, [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
    assert.deepEqual(c.volumeMounts?.map((m) => m.mountPath), ['/var/lib/kube-proxy', '/run/xtables.lock', '/lib/modules']);
    assert.deepEqual(pod.volumes?.find((v) => v.name === 'xtables-lock')?.hostPath, { path: '/run/xtables.lock', type: 'FileOrCreate' });
  });

  it('leaves out coredns and kube-proxy when disabled', () => {
    assert.deepEqual([...addonObjects(cfg, new Set(['kube-proxy'])).keys()], ['runtimeclass', 'coredns']);
    assert.deepEqual([...addonObjects(cfg, new Set(['coredns', 'servicelb'])).keys()], ['runtimeclass', 'kube-proxy']);
  });
});

describe('addonAction', () => {
  const reconcile = addonObjects(cfg).get('coredns')!.find((o) => o.kind === 'Deployment')!;
  const ensure = addonObjects(cfg).get('coredns')!.find((o) => o.kind === 'ConfigMap')!;
  const cases: { name: string; obj: AddonObject; exists: boolean; firstPass: boolean; want: string }[] = [
    { name: 'a Reconcile object is applied at server start even when it exists (an upgrade changes the image)', obj: reconcile, exists: true, firstPass: true, want: 'apply' },
    { name: 'a Reconcile object that exists is left alone after that', obj: reconcile, exists: true, firstPass: false, want: 'none' },
    { name: 'a deleted Reconcile object is applied again', obj: reconcile, exists: false, firstPass: false, want: 'apply' },
    { name: 'an EnsureExists object is created when missing', obj: ensure, exists: false, firstPass: true, want: 'create' },
    { name: 'an EnsureExists object users edited is never overwritten, not even at start', obj: ensure, exists: true, firstPass: true, want: 'none' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(addonAction(c.obj, c.exists, c.firstPass), c.want));
});

describe('capabilitiesFromMask (what privileged containers get)', () => {
  it('drops the capabilities the runtime itself lacks (CAP_SYS_RESOURCE on these hosts)', () => {
    const caps = capabilitiesFromMask('000001fffeffffff');
    assert.equal(caps.includes('CAP_SYS_RESOURCE'), false);
    assert.equal(caps.includes('CAP_NET_ADMIN'), true);
    assert.equal(caps.length, ALL_CAPABILITIES.length - 1);
  });
  it('maps a full mask to every known capability and an empty one to none', () => {
    assert.deepEqual(capabilitiesFromMask('000001ffffffffff'), ALL_CAPABILITIES);
    assert.deepEqual(capabilitiesFromMask('0'), []);
  });
});
