// --pod-max-pids: the pod cgroup the kubelet makes (pids.max, v1 and v2 layouts on a scratch tree)
// and PID pressure eviction (ranking by the pod's process count, upstream's message).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { PodCgroupError, PodContainerManager } from '../../../../src/kubelet/cm/podContainerManager.js';
import { conditionsRefusing, evictionMessage, parseThresholds, rankForEviction } from '../../../../src/kubelet/eviction/eviction.js';
import { tempDir } from '../../../support/tmp.js';

const pod = (name: string, opts: { cpu?: string; priority?: number } = {}): Pod => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}` },
  spec: {
    containers: [{ name: 'c', ...(opts.cpu ? { resources: { requests: { cpu: opts.cpu } } } : {}) }],
    ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
  },
});

const scratch = tempDir('k8ts-pids-cg-');
after(() => scratch.remove());
let n = 0;
const root = () => join(scratch.path, String(n++));

describe('PodContainerManager (pids.max on the pod cgroup)', () => {
  const cases: Array<{ name: string; limit: number; pod: Pod; want: string | undefined }> = [
    { name: 'a BestEffort pod gets /kubepods/besteffort/pod<uid> with pids.max = the limit', limit: 50, pod: pod('be'), want: 'pids/kubepods/besteffort/poduid-be' },
    { name: 'a Burstable pod gets /kubepods/burstable/pod<uid>', limit: 1024, pod: pod('bu', { cpu: '100m' }), want: 'pids/kubepods/burstable/poduid-bu' },
    { name: 'no limit (-1, the default) makes no cgroup: the runtime makes it as before', limit: -1, pod: pod('none'), want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = root();
      mkdirSync(join(r, 'pids'), { recursive: true });
      const m = new PodContainerManager({ podPidsLimit: c.limit, cgroupRoot: r, version: 1 });
      m.ensureExists(c.pod);
      m.ensureExists(c.pod); // idempotent
      if (c.want === undefined) {
        assert.equal(existsSync(join(r, 'pids', 'kubepods')), false);
        return;
      }
      assert.equal(readFileSync(join(r, c.want, 'pids.max'), 'utf8'), String(c.limit));
      assert.equal(m.pidsDir(c.pod), join(r, c.want));
    });
  }

  it('fails with an actionable error when the pids controller is not mounted (cgroup v1)', () => {
    const r = root();
    mkdirSync(r, { recursive: true });
    const m = new PodContainerManager({ podPidsLimit: 50, cgroupRoot: r, version: 1 });
    assert.throws(() => m.ensureExists(pod('x')), (err: unknown) => err instanceof PodCgroupError && /pids cgroup controller is not mounted/.test(err.message));
  });

  it('on cgroup v2 delegates +pids down the tree before writing pids.max', () => {
    const r = root();
    mkdirSync(join(r, 'kubepods', 'besteffort'), { recursive: true });
    writeFileSync(join(r, 'cgroup.controllers'), 'cpu memory pids\n');
    for (const d of ['', 'kubepods', 'kubepods/besteffort']) writeFileSync(join(r, d, 'cgroup.subtree_control'), d === '' ? 'memory' : '');
    const m = new PodContainerManager({ podPidsLimit: 64, cgroupRoot: r, version: 2 });
    m.ensureExists(pod('v2'));
    assert.equal(readFileSync(join(r, 'kubepods', 'besteffort', 'poduid-v2', 'pids.max'), 'utf8'), '64');
    for (const d of ['', 'kubepods', 'kubepods/besteffort']) assert.equal(readFileSync(join(r, d, 'cgroup.subtree_control'), 'utf8'), '+pids', `subtree_control of /${d}`);
  });

  it('on cgroup v2 without the pids controller says so', () => {
    const r = root();
    mkdirSync(r, { recursive: true });
    writeFileSync(join(r, 'cgroup.controllers'), 'cpu memory\n');
    const m = new PodContainerManager({ podPidsLimit: 64, cgroupRoot: r, version: 2 });
    assert.throws(() => m.ensureExists(pod('v2')), (err: unknown) => err instanceof PodCgroupError && /pids controller is not available/.test(err.message));
  });

  it('reads pids.current and removes the pod cgroup (children first) once empty', () => {
    const r = root();
    mkdirSync(join(r, 'pids'), { recursive: true });
    const m = new PodContainerManager({ podPidsLimit: 50, cgroupRoot: r, version: 1 });
    const p = pod('gone');
    assert.equal(m.pidsCurrent(p), undefined);
    m.ensureExists(p);
    writeFileSync(join(m.pidsDir(p), 'pids.current'), '17\n');
    assert.equal(m.pidsCurrent(p), 17);
    mkdirSync(join(m.pidsDir(p), 'container1'));
    // A scratch dir holds files, so rmdir fails like a busy cgroup would: the dir stays.
    m.destroy(p);
    assert.equal(existsSync(m.pidsDir(p)), true);
    assert.equal(existsSync(join(m.pidsDir(p), 'container1')), false);
  });
});

describe('PID pressure eviction', () => {
  it('ranks lower priority first, then the pod with more processes', () => {
    const ranked = rankForEviction(
      [
        { pod: pod('few'), containers: {}, total: 3 },
        { pod: pod('many'), containers: {}, total: 300 },
        { pod: pod('important-many', { priority: 1000 }), containers: {}, total: 900 },
      ],
      'pid.available',
    );
    assert.deepEqual(
      ranked.map((u) => u.pod.metadata!.name),
      ['many', 'few', 'important-many'],
    );
  });

  it('writes upstream’s message, which names no container for pids', () => {
    const [t] = parseThresholds('pid.available<1000');
    assert.equal(
      evictionMessage(t!, { available: 600, capacity: 32768 }, { pod: pod('forker'), containers: {}, total: 400 }),
      'The node was low on resource: pids. Threshold quantity: 1000, available: 600. ',
    );
  });
});

describe('admission under node pressure (the eviction manager’s Admit)', () => {
  const none = { memory: false, disk: false, pid: false };
  const cases: Array<{ name: string; pressure: typeof none; pod: Pod; want: string[] | undefined }> = [
    { name: 'no pressure admits every pod', pressure: none, pod: pod('be'), want: undefined },
    { name: 'PID pressure refuses a Burstable pod', pressure: { ...none, pid: true }, pod: pod('bu', { cpu: '100m' }), want: ['PIDPressure'] },
    { name: 'PID pressure admits a system-critical pod', pressure: { ...none, pid: true }, pod: pod('crit', { priority: 2_000_001_000 }), want: undefined },
    { name: 'memory pressure alone admits a Burstable pod', pressure: { ...none, memory: true }, pod: pod('bu', { cpu: '100m' }), want: undefined },
    { name: 'memory pressure alone refuses a BestEffort pod', pressure: { ...none, memory: true }, pod: pod('be'), want: ['MemoryPressure'] },
    { name: 'memory and PID pressure refuse a Burstable pod, naming both', pressure: { ...none, memory: true, pid: true }, pod: pod('bu', { cpu: '100m' }), want: ['MemoryPressure', 'PIDPressure'] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(conditionsRefusing(c.pressure, c.pod), c.want));
});
