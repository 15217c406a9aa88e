// The kubelet's side of RuntimeClass: the handler goes to RunPodSandbox and to the image calls;
// a missing class fails the sandbox with upstream's event and creates nothing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { KubeRuntimeManager, type ContainerEnvironment } from '../../../../src/kubelet/kuberuntime.js';
import { lookupRuntimeHandler } from '../../../../src/kubelet/runtimeClass.js';
import type { EventRecorder } from '../../../../src/client/events.js';
import type { ContainerRuntime, ImageSpec } from '../../../../src/kubelet/runtime/types.js';
import { tempDir } from '../../../support/tmp.js';

interface Recorded {
  sandboxes: string[];
  images: ImageSpec[];
  containers: number;
  events: string[];
}

function harness(dir: string) {
  const rec: Recorded = { sandboxes: [], images: [], containers: 0, events: [] };
  const runtime = {
    handlers: ['', 'k8ts'],
    runPodSandbox: async (_c: unknown, handler: string) => (rec.sandboxes.push(handler), 'sb1'),
    podSandboxStatus: async () => ({ id: 'sb1', network: { ip: '10.1.0.5', additionalIps: [] } }),
    imageStatus: async (spec: ImageSpec) => (rec.images.push(spec), { id: 'sha256:img', repoTags: [], repoDigests: [], size: 0n, username: '', pinned: true }),
    createContainer: async () => (rec.containers++, 'c1'),
    startContainer: async () => undefined,
  } as unknown as ContainerRuntime;
  const recorder = { event: (_o: unknown, type: string, reason: string, message: string) => void rec.events.push(`${type} ${reason}: ${message}`) } as unknown as EventRecorder;
  const env: ContainerEnvironment = {
    env: async () => [],
    mounts: async () => [],
    dnsConfig: async () => undefined,
    runHook: async () => undefined,
    pullAuth: async () => undefined,
  };
  const classes: Record<string, { handler: string }> = { k8ts: { handler: 'k8ts' } };
  const manager = new KubeRuntimeManager({
    runtime,
    runtimeName: 'test',
    recorder,
    logRoot: `${dir}/logs`,
    podsDir: `${dir}/pods`,
    env,
    clusterDomain: 'cluster.local',
    memoryCapacityBytes: 8 << 30,
    runtimeHandler: (pod) => lookupRuntimeHandler(pod.spec?.runtimeClassName, (n) => classes[n] as never),
  });
  return { rec, manager };
}

const pod = (runtimeClassName?: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default', uid: 'u1' },
  spec: { ...(runtimeClassName ? { runtimeClassName } : {}), containers: [{ name: 'c', image: 'k8ts.io/k8ts:v1', imagePullPolicy: 'IfNotPresent' }] },
});

describe('KubeRuntimeManager with RuntimeClass', () => {
  const cases: { name: string; runtimeClassName?: string; wantHandler?: string; wantEvent?: RegExp }[] = [
    { name: 'a pod without a RuntimeClass gets the default handler', wantHandler: '' },
    { name: 'a pod of RuntimeClass k8ts gets handler k8ts for its sandbox and its image', runtimeClassName: 'k8ts', wantHandler: 'k8ts' },
    {
      name: 'a pod of a missing RuntimeClass gets no sandbox and a FailedCreatePodSandBox event',
      runtimeClassName: 'gone',
      wantEvent: /^Warning FailedCreatePodSandBox: Failed to create pod sandbox: runtimeclass\.node\.k8s\.io "gone" not found$/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const tmp = tempDir('k8ts-rc-');
      try {
        const { rec, manager } = harness(tmp.path);
        const res = await manager.syncPod(pod(c.runtimeClassName), { uid: 'u1', sandboxes: [], ips: [], containers: [] }, { liveness: new Set(), startup: new Set() }, new AbortController().signal);
        if (c.wantEvent) {
          assert.deepEqual(rec.sandboxes, []);
          assert.equal(rec.containers, 0);
          assert.ok(rec.events.some((e) => c.wantEvent!.test(e)), rec.events.join('\n'));
          assert.ok((res.retryAfterMs ?? 0) > 0, 'the kubelet tries again later');
        } else {
          assert.deepEqual(rec.sandboxes, [c.wantHandler]);
          assert.equal(rec.containers, 1);
          assert.deepEqual(rec.images.map((i) => i.runtimeHandler ?? ''), [c.wantHandler]);
        }
      } finally {
        tmp.remove();
      }
    });
  }
});
