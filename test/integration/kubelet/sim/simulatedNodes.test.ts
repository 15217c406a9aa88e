// Simulated nodes against a real `k8ts server` (API, scheduler, controllers) with the real kubectl:
// 20 nodes register Ready, renew their leases, correct a status someone else changed, run a 50-replica Deployment to Running/Ready with
// IPs from their podCIDRs, finish deletions, complete a Job, and pick up where they left off after a
// restart of the simulator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { loadKubeconfigConfig } from '../../../../src/client/config.js';
import { RestClient } from '../../../../src/client/restClient.js';
import { startSimulatedNodes, type SimulatedNodes } from '../../../../src/kubelet/sim/simulatedNodes.js';
import { DEFAULT_POD_STAGES } from '../../../../src/kubelet/sim/podStages.js';
import { parseCIDR, parseIP } from '../../../../src/controllers/nodeipam/cidrSet.js';
import { startK8tsServer, type RunningServer } from '../../../support/k8tsServer.js';
import { waitFor } from '../../../support/waitFor.js';

const deployment = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: nginx, image: nginx:1.27, resources: {requests: {cpu: 10m, memory: 16Mi}}}
`;

const job = `apiVersion: batch/v1
kind: Job
metadata: {name: pi, namespace: default}
spec:
  completions: 3
  parallelism: 3
  template:
    metadata:
      annotations: {simulated.k8ts.io/complete-after: 1s}
    spec:
      restartPolicy: Never
      containers:
      - {name: pi, image: perl:5.34}
`;

describe('simulated nodes', () => {
  let s: RunningServer;
  let client: RestClient;
  let sim: SimulatedNodes | undefined;

  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const start = () => startSimulatedNodes({ client, nodes: 20, namePrefix: 'sim-', labels: { 'topology.kubernetes.io/zone': 'sim-a' }, renewIntervalMs: 1000 });

  before(async () => {
    s = await startK8tsServer(['--disable-agent']);
    client = new RestClient(await loadKubeconfigConfig({ path: s.kubeconfig }), { qps: -1, component: 'simulated-kubelet' });
  });
  after(async () => {
    await sim?.stop();
    client?.close();
    await s?.stop();
  });

  it('registers 20 Ready nodes that kubectl shows with the simulated runtime', async () => {
    sim = await start();
    const out = await ok(['get', 'nodes', '-o', 'wide', '--no-headers']);
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 20, out);
    for (const l of lines) assert.match(l, /^sim-\d+\s+Ready\s+<none>\s+\S+\s+v1\.32\.0\+k8ts\s+10\.250\.0\.\d+\s+<none>\s+k8ts simulated node\s+k8ts-simulated\s+k8ts-simulated:\/\/\S+$/, l);
    const labelled = await ok(['get', 'nodes', '-l', 'node.k8ts.io/simulated=true,topology.kubernetes.io/zone=sim-a', '-o', 'name']);
    assert.equal(labelled.trim().split('\n').length, 20);
  });

  it('renews one lease per node in kube-node-lease, owned by the node', async () => {
    const leases = client.resource<Lease>('coordination.k8s.io', 'v1', 'leases');
    const first = new Map((await leases.list({ namespace: 'kube-node-lease' })).items.map((l) => [l.metadata!.name!, l]));
    assert.equal([...first.keys()].filter((n) => n.startsWith('sim-')).length, 20);
    const l0 = first.get('sim-0')!;
    assert.equal(l0.spec?.holderIdentity, 'sim-0');
    assert.equal(l0.spec?.leaseDurationSeconds, 40);
    const node = await client.resource<Node>('', 'v1', 'nodes').get(undefined, 'sim-0');
    assert.deepEqual(l0.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid]), [['Node', 'sim-0', node.metadata?.uid]]);
    await waitFor('every lease renewed', async () => {
      const now = (await leases.list({ namespace: 'kube-node-lease' })).items.filter((l) => l.metadata!.name!.startsWith('sim-'));
      return now.length === 20 && now.every((l) => Date.parse(l.spec!.renewTime!) > Date.parse(first.get(l.metadata!.name!)!.spec!.renewTime!));
    }, 10_000);
    assert.ok(sim!.stats().leaseRenewals >= 40, JSON.stringify(sim!.stats()));
  });

  it('corrects its node status at once when someone else changes it', async () => {
    const patch = JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' }] } });
    await ok(['patch', 'node', 'sim-3', '--subresource=status', '--type=strategic', '-p', patch]);
    await waitFor('sim-3 Ready again', async () => (await ok(['get', 'node', 'sim-3', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True', 10_000);
    const reason = await ok(['get', 'node', 'sim-3', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].reason}']);
    assert.equal(reason, 'KubeletReady');
  });

  it('runs a 50-replica Deployment to Running and Ready with pod IPs from the node podCIDRs', async () => {
    await ok(['apply', '-f', '-'], deployment(50));
    await waitFor('deployment 50/50 ready', async () => (await ok(['get', 'deploy', 'web', '-o', 'jsonpath={.status.readyReplicas}'])) === '50', 60_000);
    const out = await ok(['get', 'pods', '-l', 'app=web', '--no-headers']);
    const rows = out.trim().split('\n');
    assert.equal(rows.length, 50);
    for (const r of rows) assert.match(r, /^web-\S+\s+1\/1\s+Running\s+0\s+\S+$/, r);
    const pods = (await client.resource<Pod>('', 'v1', 'pods').list({ namespace: 'default', labelSelector: 'app=web' })).items;
    const nodes = new Map((await client.resource<Node>('', 'v1', 'nodes').list({})).items.map((n) => [n.metadata!.name!, n]));
    const ips = new Set<string>();
    for (const p of pods) {
      const node = nodes.get(p.spec!.nodeName!)!;
      assert.equal(p.status?.hostIP, node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address);
      const cidr = parseCIDR(node.spec!.podCIDR!);
      const ip = parseIP(p.status!.podIP!)!;
      assert.equal(ip.ip >> BigInt(32 - cidr.prefix), cidr.ip >> BigInt(32 - cidr.prefix), `${p.status!.podIP} in ${node.spec!.podCIDR}`);
      ips.add(p.status!.podIP!);
      assert.deepEqual(p.status?.conditions?.map((c) => `${c.type}=${c.status}`).sort(), ['ContainersReady=True', 'Initialized=True', 'PodReadyToStartContainers=True', 'PodScheduled=True', 'Ready=True']);
      assert.match(p.status!.containerStatuses![0]!.containerID!, /^k8ts-simulated:\/\/[0-9a-f]{64}$/);
    }
    assert.equal(ips.size, 50, 'pod IPs are distinct');
    assert.ok(new Set(pods.map((p) => p.spec!.nodeName)).size > 1, 'pods spread over nodes');
    // One status patch per pod, all from one list and one watch of all bound pods.
    const stats = sim!.stats();
    assert.equal(stats.pods.applied['pod-ready'], 50, JSON.stringify(stats));
    assert.equal(stats.pods.errors, 0, JSON.stringify(stats));
    assert.equal(stats.podWatch.lists, 1, JSON.stringify(stats));
    assert.equal(stats.podWatch.relistsAfterGone, 0, JSON.stringify(stats));
  });

  it('completes deletions: scaling down and deleting the Deployment leaves no pods', async () => {
    await ok(['scale', 'deploy', 'web', '--replicas', '10']);
    await waitFor('40 pods gone', async () => (await ok(['get', 'pods', '-l', 'app=web', '-o', 'name'])).trim().split('\n').filter(Boolean).length === 10, 60_000);
    await ok(['delete', 'deploy', 'web']);
    await waitFor('all pods gone', async () => (await ok(['get', 'pods', '-l', 'app=web', '-o', 'name'])).trim() === '', 60_000);
  });

  it('completes a Job whose pods ask to finish after 1 s', async () => {
    await ok(['apply', '-f', '-'], job);
    await ok(['wait', '--for=condition=Complete', 'job/pi', '--timeout=60s']);
    const out = await ok(['get', 'pods', '-l', 'job-name=pi', '--no-headers']);
    for (const r of out.trim().split('\n')) assert.match(r, /^pi-\S+\s+0\/1\s+Completed\s+0\s+\S+$/, r);
  });

  it('a restarted simulator takes its nodes over and keeps its pods', async () => {
    await ok(['apply', '-f', '-'], deployment(5));
    await waitFor('deployment 5/5 ready', async () => (await ok(['get', 'deploy', 'web', '-o', 'jsonpath={.status.readyReplicas}'])) === '5', 60_000);
    const ipsBefore = await ok(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.podIP}']);
    await sim!.stop();
    // The new simulator's pod-ready stage also records a Started event: stages are data.
    const stages = DEFAULT_POD_STAGES.map((st) => (st.name === 'pod-ready' ? { ...st, next: { ...st.next, event: { type: 'Normal' as const, reason: 'Started', message: 'Started container {{ .spec.containers[0].name }}' } } } : st));
    sim = await startSimulatedNodes({ client, nodes: 20, namePrefix: 'sim-', labels: { 'topology.kubernetes.io/zone': 'sim-a' }, renewIntervalMs: 1000, stages });
    await ok(['scale', 'deploy', 'web', '--replicas', '8']);
    await waitFor('deployment 8/8 ready', async () => (await ok(['get', 'deploy', 'web', '-o', 'jsonpath={.status.readyReplicas}'])) === '8', 60_000);
    const ipsAfter = (await ok(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.podIP}'])).split(' ');
    assert.equal(new Set(ipsAfter).size, 8, `no IP handed out twice: ${ipsAfter.join(' ')}`);
    for (const ip of ipsBefore.split(' ')) assert.ok(ipsAfter.includes(ip), `${ip} kept`);
    const nodes = await ok(['get', 'nodes', '--no-headers']);
    assert.equal(nodes.trim().split('\n').filter((l) => /\sReady\s/.test(l)).length, 20);
    const events = await waitFor('3 Started events', async () => {
      const out = (await ok(['get', 'events', '--field-selector', 'reason=Started', '-o', 'jsonpath={range .items[*]}{.involvedObject.name} {.source.component} {.source.host} {.message}{"\\n"}{end}'])).trim().split('\n').filter(Boolean);
      return out.length === 3 ? out : undefined;
    });
    for (const e of events) assert.match(e, /^web-\S+ kubelet sim-\d+ Started container nginx$/, e);
  });
});
