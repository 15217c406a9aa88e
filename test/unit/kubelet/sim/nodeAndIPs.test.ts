import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PodIPAllocator, PodIPExhaustedError } from '../../../../src/kubelet/sim/podIPs.js';
import { healthyNodeConditions, LABEL_SIMULATED, nodeLeaseObject, nthAddress, nthSubnet, SIMULATED_KUBELET_VERSION, simulatedNodeObject } from '../../../../src/kubelet/sim/node.js';
import { simulatedNodeSpecs } from '../../../../src/kubelet/sim/simulatedNodes.js';
import { renewRetryDelayMs } from '../../../../src/kubelet/sim/heartbeat.js';
import { TaskPool } from '../../../../src/kubelet/sim/taskPool.js';

test('pod IPs skip the network address and the gateway, are stable per pod, and are reused after release', () => {
  const a = new PodIPAllocator('10.0.0.0/29'); // .2 … .6 usable
  assert.equal(a.allocate('p1'), '10.0.0.2');
  assert.equal(a.allocate('p1'), '10.0.0.2');
  assert.equal(a.allocate('p2'), '10.0.0.3');
  assert.equal(a.occupy('old', '10.0.0.4'), true);
  assert.equal(a.occupy('other', '10.0.0.4'), false, 'taken by another pod');
  assert.equal(a.occupy('x', '10.9.9.9'), false, 'out of range');
  assert.equal(a.allocate('p3'), '10.0.0.5');
  assert.equal(a.allocate('p4'), '10.0.0.6');
  assert.throws(() => a.allocate('p5'), PodIPExhaustedError);
  a.release('p2');
  assert.equal(a.allocate('p5'), '10.0.0.3');
  assert.equal(a.allocated, 5);
});

test('node IPs and fallback pod CIDRs are cut from their ranges', () => {
  assert.equal(nthAddress('10.250.0.0/16', 0), '10.250.0.1');
  assert.equal(nthAddress('10.250.0.0/16', 999), '10.250.3.232');
  assert.equal(nthSubnet('10.128.0.0/9', 24, 0), '10.128.0.0/24');
  assert.equal(nthSubnet('10.128.0.0/9', 24, 1000), '10.131.232.0/24');
  assert.throws(() => nthSubnet('10.0.0.0/24', 24, 1), RangeError);
  assert.throws(() => nthAddress('10.0.0.0/30', 3), RangeError);
});

test('a simulated node registers as a kubelet 1.32 would, with the simulated label and runtime', () => {
  const [spec] = simulatedNodeSpecs({ nodes: 1, labels: { zone: 'a' }, taints: [{ key: 'sim', effect: 'NoSchedule' }], podCIDRs: ['10.1.0.0/24'] });
  const node = simulatedNodeObject(spec!, Date.parse('2026-01-01T00:00:00Z'));
  assert.equal(node.metadata?.name, 'k8ts-sim-0');
  assert.deepEqual(
    { hostname: node.metadata?.labels?.['kubernetes.io/hostname'], os: node.metadata?.labels?.['kubernetes.io/os'], sim: node.metadata?.labels?.[LABEL_SIMULATED], zone: node.metadata?.labels?.['zone'] },
    { hostname: 'k8ts-sim-0', os: 'linux', sim: 'true', zone: 'a' },
  );
  assert.deepEqual(node.spec, { podCIDR: '10.1.0.0/24', podCIDRs: ['10.1.0.0/24'], taints: [{ key: 'sim', effect: 'NoSchedule' }] });
  assert.equal(node.status?.nodeInfo?.kubeletVersion, SIMULATED_KUBELET_VERSION);
  assert.match(node.status!.nodeInfo!.containerRuntimeVersion, /^k8ts-simulated:\/\/\d+\.\d+\.\d+/);
  assert.deepEqual(node.status?.addresses, [{ type: 'InternalIP', address: '10.250.0.1' }, { type: 'Hostname', address: 'k8ts-sim-0' }]);
  assert.equal(node.status?.capacity?.['pods'], '110');
  assert.deepEqual(
    node.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]),
    [
      ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
      ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
      ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
      ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
    ],
  );
});

test('conditions keep their transition time while the heartbeat time moves', () => {
  const c = healthyNodeConditions(Date.parse('2026-01-01T00:05:00Z'), Date.parse('2026-01-01T00:00:00Z'));
  assert.ok(c.every((x) => x.lastHeartbeatTime === '2026-01-01T00:05:00Z' && x.lastTransitionTime === '2026-01-01T00:00:00Z'));
});

test('the node lease is owned by its node and renewed with a MicroTime', () => {
  const l = nodeLeaseObject('n1', 'uid-1', 40, Date.parse('2026-01-01T00:00:00.123Z'));
  assert.deepEqual(l.metadata, { name: 'n1', namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'uid-1' }] });
  assert.deepEqual(l.spec, { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2026-01-01T00:00:00.123000Z' });
});

test('node names: a count with a prefix, or given names; duplicates are refused', () => {
  assert.deepEqual(simulatedNodeSpecs({ nodes: 3, namePrefix: 'kwok-' }).map((s) => s.name), ['kwok-0', 'kwok-1', 'kwok-2']);
  assert.deepEqual(simulatedNodeSpecs({ nodes: ['a', 'b'] }).map((s) => s.nodeIP), ['10.250.0.1', '10.250.0.2']);
  assert.throws(() => simulatedNodeSpecs({ nodes: ['a', 'a'] }), RangeError);
});

test('lease renewal retries back off from 200 ms to 7 s as upstream', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 10].map(renewRetryDelayMs), [200, 400, 800, 1600, 3200, 6400, 7000, 7000]);
});

test('a task pool never runs more than its limit at once', async () => {
  const pool = new TaskPool(3);
  let running = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      pool.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, i % 3));
        running--;
      }),
    ),
  );
  assert.equal(peak, 3);
  assert.equal(pool.inFlight, 0);
});
