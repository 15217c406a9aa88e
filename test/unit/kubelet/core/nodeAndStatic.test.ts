import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeConditions, nodeAllocatable, nodeCapacity, nodeConditionFacts, nodeStatus } from '../../../../src/kubelet/nodeStatus.js';
import { prettyName, type MachineInfo } from '../../../../src/kubelet/machine.js';
import { ManifestError, mirrorPodFor, staticPodFromManifest } from '../../../../src/kubelet/config/staticPods.js';

const machine: MachineInfo = {
  numCores: 2,
  memoryCapacityBytes: 8 * 1024 ** 3,
  rootfsCapacityBytes: 100 * 1024 ** 3,
  kernelVersion: '6.18.44',
  osImage: 'Debian GNU/Linux 12 (bookworm)',
  machineID: 'm',
  systemUUID: 's',
  bootID: 'b',
  architecture: 'amd64',
};

describe('node status', () => {
  it('capacity is the machine in upstream units', () => {
    assert.deepEqual(nodeCapacity(machine, 110), { cpu: '2', 'ephemeral-storage': '104857600Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '8388608Ki', pods: '110' });
  });
  it('allocatable subtracts reservations and the hard eviction threshold', () => {
    const a = nodeAllocatable({ machine, maxPods: 110, kubeReserved: { cpu: '100m', memory: '256Mi' }, systemReserved: {}, evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '10%' } });
    assert.equal(a.cpu, '1900m');
    assert.equal(a.memory, `${8388608 - 256 * 1024 - 100 * 1024}Ki`);
    assert.equal(a['ephemeral-storage'], String(Math.floor(100 * 1024 ** 3 * 0.9)));
  });
  it('conditions carry upstream reasons and messages', () => {
    const f = nodeConditionFacts({ runtimeNotReady: undefined, pressure: { memory: false, disk: true, pid: false } });
    assert.deepEqual(
      f.map((c) => `${c.type}=${c.status}/${c.reason}`),
      ['MemoryPressure=False/KubeletHasSufficientMemory', 'DiskPressure=True/KubeletHasDiskPressure', 'PIDPressure=False/KubeletHasSufficientPID', 'Ready=True/KubeletReady'],
    );
    assert.equal(f[3]!.message, 'kubelet is posting ready status');
  });
  it('a condition keeps its transition time while its status holds, and others’ conditions survive', () => {
    const prev = [
      { type: 'Ready', status: 'True', reason: 'KubeletReady', message: '', lastHeartbeatTime: 't0', lastTransitionTime: 't0' },
      { type: 'NetworkUnavailable', status: 'False', reason: 'RouteCreated', message: '' },
    ];
    const next = mergeConditions(prev, [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'x' }], 't1');
    assert.deepEqual(
      next.map((c) => [c.type, c.lastTransitionTime, c.lastHeartbeatTime]),
      [
        ['NetworkUnavailable', undefined, undefined],
        ['Ready', 't0', 't1'],
      ],
    );
  });
  it('nodeInfo names the runtime and the kubelet version', () => {
    const s = nodeStatus(undefined, {
      machine,
      maxPods: 110,
      kubeReserved: {},
      systemReserved: {},
      evictionHard: {},
      nodeIP: '10.0.0.2',
      hostname: 'h',
      kubeletPort: 10250,
      containerRuntimeVersion: 'k8ts-process://v1.32.0',
      pressure: { memory: false, disk: false, pid: false },
      images: [],
      now: 't',
    });
    assert.equal(s.nodeInfo?.containerRuntimeVersion, 'k8ts-process://v1.32.0');
    assert.equal(s.nodeInfo?.kubeletVersion, 'v1.32.0+k8ts');
    assert.deepEqual(s.addresses, [
      { type: 'InternalIP', address: '10.0.0.2' },
      { type: 'Hostname', address: 'h' },
    ]);
  });
  it('reads PRETTY_NAME from os-release', () => assert.equal(prettyName('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'), 'Debian GNU/Linux 12 (bookworm)'));
});

describe('static pods', () => {
  const manifest = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: kube-system\nspec:\n  containers:\n  - name: c\n    image: busybox\n';
  it('get the node-suffixed name, a manifest hash as UID, config annotations, defaults and NoExecute tolerance', () => {
    const p = staticPodFromManifest(manifest, '/m/web.yaml', 'node1');
    assert.equal(p.metadata?.name, 'web-node1');
    assert.equal(p.metadata?.namespace, 'kube-system');
    assert.equal(p.metadata?.annotations?.['kubernetes.io/config.source'], 'file');
    assert.equal(p.metadata?.annotations?.['kubernetes.io/config.hash'], p.metadata?.uid);
    assert.equal(p.spec?.nodeName, 'node1');
    assert.equal(p.spec?.restartPolicy, 'Always');
    assert.ok(p.spec?.tolerations?.some((t) => t.operator === 'Exists' && t.effect === 'NoExecute'));
    assert.equal(staticPodFromManifest(manifest, '/m/web.yaml', 'node1').metadata?.uid, p.metadata?.uid);
    assert.notEqual(staticPodFromManifest(manifest.replace('busybox', 'nginx'), '/m/web.yaml', 'node1').metadata?.uid, p.metadata?.uid);
  });
  it('mirror pods carry config.mirror and are owned by the node', () => {
    const m = mirrorPodFor(staticPodFromManifest(manifest, '/m/web.yaml', 'node1'), { name: 'node1', uid: 'nu' });
    assert.equal(m.metadata?.annotations?.['kubernetes.io/config.mirror'], m.metadata?.annotations?.['kubernetes.io/config.hash']);
    assert.deepEqual(m.metadata?.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: 'node1', uid: 'nu', controller: true }]);
    assert.equal(m.status, undefined);
  });
  const bad: [string, string][] = [
    ['broken YAML', 'kind: Pod\nmetadata: [\n'],
    ['another kind', 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\n'],
    ['no containers', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n'],
    ['a container without image', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c}]}\n'],
    ['two documents', `${manifest}---\n${manifest}`],
  ];
  for (const [name, text] of bad) it(`rejects ${name} with a ManifestError`, () => assert.throws(() => staticPodFromManifest(text, 'f.yaml', 'n'), ManifestError));
});
