// The scheduler against a real `k8ts server`, driven with the real kubectl: the tutorial's
// FailedScheduling story, binding after a taint goes away, schedulerName routing, preemption, and
// the standalone `k8ts scheduler` (bad config, leader election).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { tempDir } from '../../support/tmp.js';
import { waitFor } from '../../support/waitFor.js';

const BIN = fileURLToPath(new URL('../../../../bin/k8ts', import.meta.url));

function nodeJSON(name: string, memory: string, taint: boolean, extra: Record<string, string> = {}): string {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...extra } },
    spec: taint ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } : {},
    status: {
      capacity: { cpu: '4', memory, pods: '110' },
      allocatable: { cpu: '4', memory, pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
    },
  });
}

describe('scheduler in k8ts server', () => {
  let s: RunningServer;
  const k = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input });
    return r;
  };
  const ok = async (args: string[], input?: string) => {
    const r = await k(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    s = await startK8tsServer(['--disable-agent']);
    for (const [n, mem, taint] of [['small-1', '1Gi', false], ['small-2', '1Gi', false], ['cp-1', '64Gi', true], ['cp-2', '64Gi', true], ['cp-3', '64Gi', true]] as const) {
      await ok(['create', '-f', '-'], nodeJSON(n, mem, taint));
    }
  });
  after(async () => s?.stop());

  it('explains why a pod cannot be scheduled, as upstream words it, then binds it once the taint is gone', async () => {
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: stuck-pod}\nspec:\n  containers:\n  - {name: app, image: busybox, resources: {requests: {memory: 8Gi}}}\n');
    let describe = '';
    await waitFor('FailedScheduling', async () => (describe = await ok(['describe', 'pod', 'stuck-pod'])).includes('FailedScheduling'));
    assert.match(describe, /0\/5 nodes are available: 2 Insufficient memory, 3 node\(s\) had untolerated taint \{node-role\.kubernetes\.io\/control-plane: \}\. preemption: 0\/5 nodes are available: 5 Preemption is not helpful for scheduling\.\./);
    assert.equal(await ok(['get', 'pod', 'stuck-pod', '-o', 'jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}']), 'Unschedulable');
    // kubectl exits 1 because the small nodes have no such taint, as upstream's does; the check ignores that too.
    await k(['taint', 'nodes', '--all', 'node-role.kubernetes.io/control-plane-']);
    await waitFor('binding', async () => (await ok(['get', 'pod', 'stuck-pod', '-o', 'jsonpath={.spec.nodeName}'])).startsWith('cp-'));
    const events = await ok(['get', 'events', '--field-selector', 'reason=Scheduled']);
    assert.match(events, /Successfully assigned default\/stuck-pod to cp-\d/);
    const cs = await ok(['get', 'componentstatuses']);
    assert.match(cs, /scheduler\s+Healthy/);
  });

  it('leaves pods for another scheduler pending and untouched', async () => {
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: other}\nspec:\n  schedulerName: my-scheduler\n  containers: [{name: app, image: busybox}]\n');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await ok(['get', 'pod', 'other', '-o', 'jsonpath={.spec.nodeName}{.status.conditions}']), '');
  });

  it('preempts a lower-priority pod for a higher-priority one', async () => {
    await ok(['apply', '-f', '-'], 'apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n');
    await ok(['label', 'node', 'small-1', 'pool=tiny']);
    const spec = (name: string, prio: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  ${prio}nodeSelector: {pool: tiny}\n  containers:\n  - {name: app, image: busybox, resources: {requests: {memory: 800Mi}}}\n`;
    await ok(['apply', '-f', '-'], spec('low', ''));
    await waitFor('low bound', async () => (await ok(['get', 'pod', 'low', '-o', 'jsonpath={.spec.nodeName}'])) === 'small-1');
    await ok(['apply', '-f', '-'], spec('vip', 'priorityClassName: high\n  '));
    // The victim is deleted gracefully; with no kubelet here, finish its deletion as a kubelet would.
    await waitFor('low preempted', async () => (await ok(['get', 'pod', 'low', '-o', 'jsonpath={.metadata.deletionTimestamp}'])) !== '');
    assert.equal(await ok(['get', 'pod', 'vip', '-o', 'jsonpath={.status.nominatedNodeName}']), 'small-1');
    assert.match(await ok(['get', 'pod', 'low', '-o', 'jsonpath={.status.conditions[?(@.type=="DisruptionTarget")].reason}']), /PreemptionByScheduler/);
    await ok(['delete', 'pod', 'low', '--grace-period=0', '--force']);
    await waitFor('vip bound', async () => (await ok(['get', 'pod', 'vip', '-o', 'jsonpath={.spec.nodeName}'])) === 'small-1');
    const events = await ok(['get', 'events', '--field-selector', 'reason=Preempted']);
    assert.match(events, /Preempted by pod .* on node small-1/);
  });

  it('rejects an impossible node affinity without getting stuck, and schedules after the label appears', async () => {
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: picky}\nspec:\n  nodeSelector: {disk: ssd}\n  containers: [{name: app, image: busybox}]\n');
    await waitFor('FailedScheduling', async () => /didn't match Pod's node affinity\/selector/.test(await ok(['describe', 'pod', 'picky'])));
    await ok(['label', 'node', 'cp-2', 'disk=ssd']);
    await waitFor('bound to cp-2', async () => (await ok(['get', 'pod', 'picky', '-o', 'jsonpath={.spec.nodeName}'])) === 'cp-2');
  });
});

describe('k8ts scheduler (standalone)', () => {
  it('refuses an invalid configuration naming the field, exiting non-zero', async () => {
    const dir = tempDir('k8ts-sched-cfg-');
    try {
      const cfg = join(dir.path, 'c.yaml');
      writeFileSync(cfg, 'apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\npercentageOfNodesToScore: 250\n');
      const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(process.execPath, [BIN, 'scheduler', '--config', cfg, '--kubeconfig', join(dir.path, 'none')], (err, _o, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr })),
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /percentageOfNodesToScore: Invalid value: 250/);
    } finally {
      dir.remove();
    }
  });

  it('two schedulers elect one leader on the kube-system/kube-scheduler Lease; the other takes over when it stops', async () => {
    const s = await startK8tsServer(['--disable-agent', '--disable-scheduler']);
    const procs: ReturnType<typeof spawn>[] = [];
    try {
      const cfg = join(s.dataDir, 'sched.yaml');
      writeFileSync(cfg, 'apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nleaderElection: {leaderElect: true, leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 500ms}\n');
      const logs = ['', ''];
      for (let i = 0; i < 2; i++) {
        const p = spawn(process.execPath, [BIN, 'scheduler', '--kubeconfig', s.kubeconfig, '--config', cfg, '--secure-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, K8TS_LOG_LEVEL: 'info' } });
        p.stderr!.on('data', (d: Buffer) => (logs[i] = (logs[i]! + d.toString()).slice(-6000)));
        procs.push(p);
      }
      let holder = '';
      await waitFor('a leader', async () => {
        const r = await s.kubectl(['get', 'lease', '-n', 'kube-system', 'kube-scheduler', '-o', 'jsonpath={.spec.holderIdentity}']);
        holder = r.stdout;
        return r.code === 0 && holder !== '';
      });
      await s.kubectl(['create', '-f', '-'], { input: nodeJSON('n1', '8Gi', false) });
      await s.kubectl(['run', 'p1', '--image=busybox']);
      await waitFor('p1 bound', async () => (await s.kubectl(['get', 'pod', 'p1', '-o', 'jsonpath={.spec.nodeName}'])).stdout === 'n1');
      // Stop whichever leads; the other must take over and schedule.
      const before = holder;
      procs[0]!.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      await waitFor('a leader after the first stopped', async () => {
        const r = await s.kubectl(['get', 'lease', '-n', 'kube-system', 'kube-scheduler', '-o', 'jsonpath={.spec.holderIdentity}']);
        holder = r.stdout;
        return r.code === 0 && holder !== '' && (procs[0]!.exitCode !== null);
      }, 30_000);
      await s.kubectl(['run', 'p2', '--image=busybox']);
      await waitFor('p2 bound by the remaining scheduler', async () => (await s.kubectl(['get', 'pod', 'p2', '-o', 'jsonpath={.spec.nodeName}'])).stdout === 'n1', 45_000).catch((err: Error) => {
        // Say what each scheduler was doing: this has failed intermittently.
        throw new Error(`${err.message}\nscheduler 0:\n${logs[0]}\nscheduler 1:\n${logs[1]}`);
      });
      assert.ok(before !== '');
    } finally {
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
      await s.stop();
    }
  });
});
