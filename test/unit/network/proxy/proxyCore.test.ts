import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { addonObjects } from '../../../../src/server/addons/manifests.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../../src/client/clock.js';
import { defaultProxyConfig, parseGoDuration, parseProxyConfig, ProxyConfigError } from '../../../../src/network/proxy/config.js';
import { conntrackDeleteCommands } from '../../../../src/network/proxy/conntrack.js';
import { ProxyHealth, splitHostPort, startHealthzServer } from '../../../../src/network/proxy/healthz.js';
import { SyncRunner } from '../../../../src/network/proxy/syncRunner.js';

/** Lets promise callbacks (a run's completion) happen between clock steps. */
const settle = () => new Promise((r) => setImmediate(r));

describe('SyncRunner', () => {
  it('runs at once when idle, then never more often than minInterval, folding requests together', async () => {
    const clock = new FakeClock(10_000);
    const runs: number[] = [];
    const r = new SyncRunner(async () => void runs.push(clock.now()), { minIntervalMs: 1000, maxIntervalMs: 30_000, clock });
    r.start();
    clock.step(0);
    await settle();
    assert.deepEqual(runs, [10_000]);
    r.run();
    r.run();
    clock.step(500);
    await settle();
    assert.deepEqual(runs, [10_000], 'not within minInterval');
    clock.step(500);
    await settle();
    assert.deepEqual(runs, [10_000, 11_000], 'two requests, one run');
    await r.stop();
  });

  it('runs every maxInterval without requests', async () => {
    const clock = new FakeClock(0);
    let n = 0;
    const r = new SyncRunner(async () => void n++, { minIntervalMs: 1000, maxIntervalMs: 30_000, clock });
    r.start();
    clock.step(0);
    await settle();
    for (let i = 0; i < 3; i++) {
      clock.step(30_000);
      await settle();
    }
    assert.equal(n, 4);
    await r.stop();
  });

  it('retries a failed run with doubling back-off capped at retryMax, and reports each failure', async () => {
    const clock = new FakeClock(0);
    const runs: number[] = [];
    const failures: Array<[number, number]> = [];
    const r = new SyncRunner(
      async () => {
        runs.push(clock.now());
        if (runs.length <= 4) throw new Error('iptables-restore: line 3 failed');
      },
      { minIntervalMs: 0, maxIntervalMs: 30_000, retryBaseMs: 1000, retryMaxMs: 4000, clock, onError: (_e, n, ms) => failures.push([n, ms]) },
    );
    r.start();
    for (let i = 0; i < 12; i++) {
      clock.step(i === 0 ? 0 : 1000);
      await settle();
    }
    assert.deepEqual(runs, [0, 1000, 3000, 7000, 11000]);
    assert.deepEqual(failures, [[1, 1000], [2, 2000], [3, 4000], [4, 4000]]);
    assert.equal(r.consecutiveFailures, 0);
    await r.stop();
  });
});

describe('KubeProxyConfiguration', () => {
  it('defaults as upstream: iptables mode, healthz 0.0.0.0:10256, metrics 127.0.0.1:10249, 1s/30s sync, masquerade bit 14', () => {
    const c = defaultProxyConfig();
    assert.equal(c.mode, 'iptables');
    assert.equal(c.healthzBindAddress, '0.0.0.0:10256');
    assert.equal(c.metricsBindAddress, '127.0.0.1:10249');
    assert.deepEqual(c.iptables, { masqueradeAll: false, masqueradeBit: 14, minSyncPeriodMs: 1000, syncPeriodMs: 30_000, localhostNodePorts: true });
  });
  it("reads kubeadm's config.conf as written (nulls, empty strings and 0s periods take the defaults)", () => {
    const c = parseProxyConfig(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
bindAddress: 0.0.0.0
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
metricsBindAddress: ""
mode: "iptables"
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
`);
    assert.equal(c.mode, 'iptables');
    assert.equal(c.clusterCIDR, '10.244.0.0/16');
    assert.equal(c.clientConnection.kubeconfig, '/var/lib/kube-proxy/kubeconfig.conf');
    assert.equal(c.iptables.masqueradeBit, 14);
    assert.equal(c.healthzBindAddress, '0.0.0.0:10256');
    assert.equal(c.iptables.syncPeriodMs, 30_000);
    assert.equal(c.iptables.minSyncPeriodMs, 1000);
    // qps/burst 0 are upstream's "use the default" (5 and 10), not a client that never sends.
    assert.equal(c.clientConnection.qps, 5);
    assert.equal(c.clientConnection.burst, 10);
  });
  it("reads the kube-proxy ConfigMap's config.conf that k8ts server writes", () => {
    const cm = addonObjects({ image: 'k8ts.io/k8ts:v0', clusterDomain: 'cluster.local', dnsServiceIP: '10.96.0.10', clusterCIDR: '10.244.0.0/16', apiServerURL: 'https://192.0.2.1:6443' })
      .get('kube-proxy')!
      .find((o): o is ConfigMap => o.kind === 'ConfigMap')!;
    const c = parseProxyConfig(cm.data!['config.conf']!);
    assert.equal(c.mode, 'iptables');
    assert.equal(c.clusterCIDR, '10.244.0.0/16');
    assert.equal(c.clientConnection.qps, 5);
  });
  const bad: Array<[string, string, RegExp]> = [
    ['an unknown top-level field is a strict decoding error', 'mode: iptables\nfoo: 1\n', /strict decoding error: unknown field "foo"/],
    ['an unknown nested field names its path', 'iptables:\n  masqueradeAl: true\n', /unknown field "iptables.masqueradeAl"/],
    ['a wrong kind is refused', 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n', /no kind "KubeletConfiguration"/],
    ['an unsupported mode is refused with the supported ones', 'mode: userspace\n', /mode: Unsupported value: "userspace"/],
    ['a bad duration names the field', 'iptables:\n  syncPeriod: soon\n', /iptables.syncPeriod: invalid duration "soon"/],
    ['a masquerade bit beyond 31 is refused', 'iptables:\n  masqueradeBit: 40\n', /iptables.masqueradeBit: Invalid value: 40/],
    ['a bad cluster CIDR is refused', 'clusterCIDR: 10.244.0.0\n', /clusterCIDR: Invalid value/],
    ['a healthz address without a port is refused', 'healthzBindAddress: 0.0.0.0\n', /healthzBindAddress: Invalid value/],
  ];
  for (const [name, text, re] of bad) {
    it(name, () => assert.throws(() => parseProxyConfig(text), (err: unknown) => err instanceof ProxyConfigError && re.test(err.message)));
  }
  it('parses Go durations', () => {
    assert.equal(parseGoDuration('1m30s'), 90_000);
    assert.equal(parseGoDuration('24h0m0s'), 86_400_000);
    assert.equal(parseGoDuration('250ms'), 250);
    assert.equal(parseGoDuration('0s'), 0);
  });
});

describe('conntrackDeleteCommands', () => {
  it('deletes UDP flows by service IP, by NodePort, and by service IP plus DNAT endpoint', () => {
    assert.deepEqual(conntrackDeleteCommands({ serviceIPs: ['10.96.0.10'], nodePorts: [30053], endpoints: [{ serviceIP: '10.96.0.10', endpointIP: '10.244.1.5' }] }, 'IPv4'), [
      ['-D', '--orig-dst', '10.96.0.10', '-p', 'udp'],
      ['-D', '-p', 'udp', '--dport', '30053'],
      ['-D', '--orig-dst', '10.96.0.10', '--dst-nat', '10.244.1.5', '-p', 'udp'],
    ]);
    assert.deepEqual(conntrackDeleteCommands({ serviceIPs: ['fd00::a'], nodePorts: [], endpoints: [] }, 'IPv6'), [['-D', '-f', 'ipv6', '--orig-dst', 'fd00::a', '-p', 'udp']]);
  });
});

describe('proxy health', () => {
  it('is healthy until a queued change waits longer than the timeout, and again after a sync', () => {
    const clock = new FakeClock(1_000_000);
    const h = new ProxyHealth(60_000, clock);
    assert.equal(h.status().healthy, true);
    h.queued('IPv4');
    clock.step(60_001);
    assert.equal(h.status().healthy, false);
    h.updated('IPv4');
    assert.deepEqual(h.status(), { healthy: true, lastUpdated: clock.now(), currentTime: clock.now() });
  });
  it('serves upstream\'s JSON on /healthz (503 when the node is being deleted) and /livez', async () => {
    const h = new ProxyHealth(60_000);
    const srv = await startHealthzServer('127.0.0.1:0', h);
    try {
      let res = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), ['lastUpdated', 'currentTime', 'nodeEligible']);
      assert.equal(body.lastUpdated, '0001-01-01T00:00:00Z');
      h.nodeEligible = false;
      res = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
      assert.equal(res.status, 503);
      await res.text();
      res = await fetch(`http://127.0.0.1:${srv.port}/livez`);
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys((await res.json()) as object), ['lastUpdated', 'currentTime']);
    } finally {
      await srv.close();
    }
  });
  it('splits bind addresses', () => {
    assert.deepEqual(splitHostPort('0.0.0.0:10256'), { host: '0.0.0.0', port: 10256 });
    assert.deepEqual(splitHostPort('[::]:10256'), { host: '::', port: 10256 });
  });
});
