// kube-proxy end to end against a real k8ts server: Services and EndpointSlices made with kubectl
// are programmed into iptables inside a lab node namespace; endpoint changes land within a second;
// /healthz and /metrics answer; a failing iptables-restore is retried, reported as a Node event and
// a metric, and leaves the previous rules in force.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RestClient } from '../../../../src/client/restClient.js';
import { loadKubeconfigConfig } from '../../../../src/client/config.js';
import { defaultProxyConfig } from '../../../../src/network/proxy/config.js';
import { commandRunner, type CommandRunner } from '../../../../src/network/proxy/exec.js';
import { startProxy, type RunningProxy, SYNC_FAILED_REASON } from '../../../../src/network/proxy/server.js';
import { startK8tsServer, type RunningServer } from '../../../support/k8tsServer.js';
import { LAB_HTTP_PORT, NetnsLab } from '../../../support/netnsLab.js';
import { waitFor } from '../../../support/waitFor.js';

const NODE = 'lab-node';

function sliceYaml(ips: string[], version: number): string {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: default
  labels:
    kubernetes.io/service-name: web
    endpointslice.kubernetes.io/managed-by: test.k8ts.io
  annotations:
    endpoints.kubernetes.io/last-change-trigger-time: "${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}"
    test/version: "${version}"
addressType: IPv4
ports:
- name: http
  port: ${LAB_HTTP_PORT}
  protocol: TCP
endpoints:
${ips.map((ip) => `- addresses: ["${ip}"]\n  conditions: {ready: true}\n  nodeName: ${NODE}`).join('\n')}
`;
}

describe('kube-proxy (iptables mode) against a k8ts server', { timeout: 240_000 }, () => {
  let server: RunningServer;
  let lab: NetnsLab;
  let proxy: RunningProxy;
  let clusterIP = '';
  let failRestore = false;

  before(async () => {
    [server, lab] = await Promise.all([startK8tsServer(), NetnsLab.create({ owner: 'proxy', pods: 2 })]);
    const node = await server.kubectl(['apply', '-f', '-'], { input: `apiVersion: v1\nkind: Node\nmetadata:\n  name: ${NODE}\n` });
    assert.equal(node.code, 0, node.stderr);
    const inner = commandRunner(NetnsLab.execPrefix(lab.nodeNs));
    // A runner that can be told to fail iptables-restore, as a kernel or lock problem would.
    const exec: CommandRunner = {
      run: (cmd, args, input) => (failRestore && cmd === 'iptables-restore' ? Promise.resolve({ code: 2, stdout: '', stderr: 'iptables-restore: line 7 failed' }) : inner.run(cmd, args, input)),
    };
    const client = new RestClient(await loadKubeconfigConfig({ path: server.kubeconfig }), { component: 'kube-proxy', qps: -1 });
    proxy = await startProxy({
      client,
      config: { ...defaultProxyConfig(), clusterCIDR: '10.244.0.0/16', healthzBindAddress: '127.0.0.1:0', metricsBindAddress: '127.0.0.1:0' },
      nodeName: NODE,
      exec,
      nodeIPs: [lab.nodeIP],
      cleanupOtherModes: false,
      retryBaseMs: 300,
    });
  });
  after(async () => {
    await proxy?.stop();
    await lab?.destroy();
    await server?.stop();
  });

  it('programs a Service created with kubectl so that a pod reaches its endpoints through the cluster IP', async () => {
    const svc = await server.kubectl(['apply', '-f', '-'], {
      input: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: default\nspec:\n  clusterIP: 10.96.100.10\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n',
    });
    assert.equal(svc.code, 0, svc.stderr);
    clusterIP = (await server.kubectl(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).stdout.trim();
    assert.match(clusterIP, /^\d+\.\d+\.\d+\.\d+$/);
    const sl = await server.kubectl(['apply', '-f', '-'], { input: sliceYaml([lab.pods[0]!.ip, lab.pods[1]!.ip], 1) });
    assert.equal(sl.code, 0, sl.stderr);
    await proxy.firstSync;
    const seen = await waitFor('both endpoints answering through the cluster IP', async () => {
      const outs = await lab.httpMany(lab.pods[1]!.ns, `http://${clusterIP}/`, 12, { timeoutMs: 1000 });
      const names = new Set(outs.map((o) => (o.kind === 'ok' ? o.body.split(' ')[0] : o.kind)));
      return names.size === 2 && names.has('pod0') && names.has('pod1') ? names : false;
    }, 20_000);
    assert.equal(seen.size, 2);
  });

  it('has an endpoint change in the rules within a second', async () => {
    // Let minSyncPeriod (1 s) pass since the last sync, as between two real changes.
    await new Promise((r) => setTimeout(r, 1100));
    const t0 = Date.now();
    const sl = await server.kubectl(['apply', '-f', '-'], { input: sliceYaml([lab.pods[1]!.ip], 2) });
    assert.equal(sl.code, 0, sl.stderr);
    const applied = Date.now();
    // Poll the rules themselves, so the measure is the proxy's latency, not the test client's.
    await waitFor('the removed endpoint gone from the nat table', async () => !(await lab.mustExec(lab.nodeNs, 'iptables-save', ['-t', 'nat'])).includes(`${lab.pods[0]!.ip}:${LAB_HTTP_PORT}`), 5000, 20);
    const ms = Date.now() - applied;
    assert.ok(ms < 1000, `endpoint change took ${ms} ms after kubectl returned (${applied - t0} ms for kubectl)`);
    const outs = await lab.httpMany(lab.pods[0]!.ns, `http://${clusterIP}/`, 6);
    assert.deepEqual([...new Set(outs.map((o) => (o.kind === 'ok' ? o.body.split(' ')[0] : o.kind)))], ['pod1']);
  });

  it('serves /healthz (JSON, 200 after syncs) and /metrics with upstream names', async () => {
    const h = await fetch(`http://127.0.0.1:${proxy.healthzPort}/healthz`);
    assert.equal(h.status, 200);
    const body = (await h.json()) as { lastUpdated: string; currentTime: string; nodeEligible: boolean };
    assert.equal(body.nodeEligible, true);
    assert.notEqual(body.lastUpdated, '0001-01-01T00:00:00Z');
    const m = await (await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`)).text();
    for (const name of [
      'kubeproxy_sync_proxy_rules_duration_seconds_bucket',
      'kubeproxy_sync_full_proxy_rules_duration_seconds_count',
      'kubeproxy_sync_partial_proxy_rules_duration_seconds_count',
      'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
      'kubeproxy_sync_proxy_rules_iptables_total{table="nat",ip_family="IPv4"}',
      'kubeproxy_sync_proxy_rules_endpoint_changes_total',
      'kubeproxy_sync_proxy_rules_service_changes_total',
      'kubeproxy_network_programming_duration_seconds_count',
    ]) {
      assert.ok(m.includes(name), `metrics lack ${name}`);
    }
    assert.equal(await (await fetch(`http://127.0.0.1:${proxy.metricsPort}/proxyMode`)).text(), 'iptables');
  });

  it('retries a failed sync, records a Warning event on the Node and counts the failure, keeping the old rules in force', async () => {
    failRestore = true;
    const sl = await server.kubectl(['apply', '-f', '-'], { input: sliceYaml([lab.pods[0]!.ip], 3) });
    assert.equal(sl.code, 0, sl.stderr);
    const ev = await waitFor('a FailedToSyncProxyRules event on the node', async () => {
      const r = await server.kubectl(['get', 'events', '-A', '--field-selector', `involvedObject.name=${NODE},reason=${SYNC_FAILED_REASON}`, '-o', 'jsonpath={.items[*].message}']);
      return r.code === 0 && r.stdout.includes('iptables-restore') ? r.stdout : false;
    }, 15_000);
    assert.match(ev, /line 7 failed/);
    const m = await (await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`)).text();
    assert.match(m, /kubeproxy_sync_proxy_rules_iptables_restore_failures_total\{ip_family="IPv4"\} [1-9]/);
    assert.match(m, /kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total\{ip_family="IPv4"\} [1-9]/);
    // The rules of the last good sync still carry traffic.
    const still = await lab.http(lab.pods[0]!.ns, `http://${clusterIP}/`);
    assert.equal(still.kind === 'ok' && still.body.split(' ')[0], 'pod1');
    failRestore = false;
    await waitFor('the retried sync applying the new endpoint', async () => {
      const o = await lab.http(lab.pods[1]!.ns, `http://${clusterIP}/`, { timeoutMs: 1000 });
      return o.kind === 'ok' && o.body.startsWith('pod0 ');
    }, 15_000);
  });

  it('REJECTs the service once it is left without endpoints, and removes its rules when it is deleted', async () => {
    const del = await server.kubectl(['delete', 'endpointslice', 'web-abc']);
    assert.equal(del.code, 0, del.stderr);
    await waitFor('connection refused', async () => (await lab.http(lab.pods[1]!.ns, `http://${clusterIP}/`, { timeoutMs: 1000 })).kind === 'refused', 10_000);
    assert.equal((await server.kubectl(['delete', 'service', 'web'])).code, 0);
    await waitFor('no rules for the service', async () => !(await lab.mustExec(lab.nodeNs, 'iptables-save')).includes('default/web'), 10_000);
  });
});
