// RuntimeClass → handler resolution, and the router that sends each handler's pods to its runtime.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import { lookupRuntimeHandler, RuntimeClassNotFoundError } from '../../../../src/kubelet/runtimeClass.js';
import { RuntimeHandlerRouter } from '../../../../src/kubelet/runtime/handlerRouter.js';
import { RuntimeError, type ContainerRuntime } from '../../../../src/kubelet/runtime/types.js';

const classes: Record<string, RuntimeClass> = {
  k8ts: { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'k8ts' }, handler: 'k8ts' },
  gvisor: { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'gvisor' }, handler: 'runsc' },
  leaving: { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'leaving', deletionTimestamp: '2026-01-01T00:00:00Z' }, handler: 'runc' },
};
const get = (name: string) => classes[name];

describe('lookupRuntimeHandler', () => {
  const cases: { name: string; runtimeClassName: string | undefined; want?: string; notFound?: boolean }[] = [
    { name: 'a pod without runtimeClassName gets the default handler ""', runtimeClassName: undefined, want: '' },
    { name: 'an empty runtimeClassName is the default handler too', runtimeClassName: '', want: '' },
    { name: 'a named class resolves to its handler, not its name', runtimeClassName: 'gvisor', want: 'runsc' },
    { name: 'the k8ts class resolves to the k8ts handler', runtimeClassName: 'k8ts', want: 'k8ts' },
    { name: 'a missing class is NotFound', runtimeClassName: 'nope', notFound: true },
    { name: 'a class being deleted counts as missing', runtimeClassName: 'leaving', notFound: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.notFound) {
        assert.throws(
          () => lookupRuntimeHandler(c.runtimeClassName, get),
          (err: unknown) => err instanceof RuntimeClassNotFoundError && err.code === 'NotFound' && err.runtimeClassName === c.runtimeClassName,
        );
      } else assert.equal(lookupRuntimeHandler(c.runtimeClassName, get), c.want);
    });
  }
  it('words the NotFound as the kubelet does (the lister error of runtimeclass.node.k8s.io)', () => {
    assert.throws(() => lookupRuntimeHandler('x', get), { message: 'runtimeclass.node.k8s.io "x" not found' });
  });
});

/** A runtime double that records which calls reached it and owns the ids it handed out. */
function recordingRuntime(name: string, handlers: string[]): ContainerRuntime & { calls: string[] } {
  const calls: string[] = [];
  const sandboxes = new Set<string>();
  const containers = new Set<string>();
  let n = 0;
  const own = (set: Set<string>, id: string) => {
    if (!set.has(id)) throw new RuntimeError('NotFound', `${id} not found in ${name}`);
  };
  const rt = {
    calls,
    handlers,
    version: async () => ({ version: '0.1.0', runtimeName: name, runtimeVersion: '1', runtimeApiVersion: 'v1' }),
    status: async () => ({ conditions: [{ type: 'RuntimeReady', status: true, reason: '', message: '' }] }),
    updateRuntimeConfig: async () => void calls.push('updateRuntimeConfig'),
    runPodSandbox: async (_c: unknown, handler: string) => {
      calls.push(`runPodSandbox(${handler})`);
      const id = `${name}-sb-${n++}`;
      sandboxes.add(id);
      return id;
    },
    stopPodSandbox: async (id: string) => (own(sandboxes, id), void calls.push(`stopPodSandbox(${id})`)),
    removePodSandbox: async (id: string) => (own(sandboxes, id), sandboxes.delete(id), void calls.push(`removePodSandbox(${id})`)),
    podSandboxStatus: async (id: string) => (own(sandboxes, id), { id } as never),
    listPodSandbox: async () => [...sandboxes].map((id) => ({ id }) as never),
    createContainer: async (sb: string) => {
      own(sandboxes, sb);
      const id = `${name}-c-${n++}`;
      containers.add(id);
      calls.push(`createContainer(${sb})`);
      return id;
    },
    startContainer: async (id: string) => (own(containers, id), void calls.push(`startContainer(${id})`)),
    stopContainer: async (id: string) => (own(containers, id), void calls.push(`stopContainer(${id})`)),
    removeContainer: async (id: string) => (own(containers, id), containers.delete(id), void calls.push(`removeContainer(${id})`)),
    listContainers: async () => [...containers].map((id) => ({ id }) as never),
    containerStatus: async (id: string) => (own(containers, id), { id } as never),
    execSync: async (id: string) => (own(containers, id), calls.push(`execSync(${id})`), { stdout: Buffer.from(name), stderr: Buffer.alloc(0), exitCode: 0 }),
    exec: async () => assert.fail('not used'),
    attach: async () => assert.fail('not used'),
    portForward: async () => assert.fail('not used'),
    listImages: async () => [{ id: `sha256:${name}`, repoTags: [`${name}:1`], repoDigests: [], size: 0n, username: '', pinned: false }],
    imageStatus: async (spec: { image: string }) => (calls.push(`imageStatus(${spec.image})`), undefined),
    pullImage: async (spec: { image: string }) => (calls.push(`pullImage(${spec.image})`), `sha256:${name}`),
    removeImage: async () => void calls.push('removeImage'),
    imageFsInfo: async () => [],
    close: async () => void calls.push('close'),
  };
  return rt as unknown as ContainerRuntime & { calls: string[] };
}

describe('RuntimeHandlerRouter', () => {
  const setup = () => {
    const containerd = recordingRuntime('containerd', ['', 'runc']);
    const proc = recordingRuntime('process', ['', 'k8ts']);
    return { containerd, proc, router: new RuntimeHandlerRouter(containerd, [{ handlers: ['k8ts'], runtime: proc }]) };
  };

  it('serves the default runtime\'s handlers and the routed ones', () => {
    assert.deepEqual([...setup().router.handlers].sort(), ['', 'k8ts', 'runc']);
  });

  const routing: { name: string; handler: string; want: 'containerd' | 'process' }[] = [
    { name: 'pods of the default handler run with the default runtime', handler: '', want: 'containerd' },
    { name: 'pods of the k8ts handler run with the process runtime', handler: 'k8ts', want: 'process' },
    { name: 'other handlers go to the default runtime as its runtime_handler', handler: 'runc', want: 'containerd' },
  ];
  for (const c of routing) {
    it(c.name, async () => {
      const s = setup();
      const sb = await s.router.runPodSandbox({} as never, c.handler);
      const cid = await s.router.createContainer(sb, {} as never, {} as never);
      await s.router.startContainer(cid);
      const hit = c.want === 'containerd' ? s.containerd : s.proc;
      const miss = c.want === 'containerd' ? s.proc : s.containerd;
      assert.deepEqual(hit.calls, [`runPodSandbox(${c.handler})`, `createContainer(${sb})`, `startContainer(${cid})`]);
      assert.deepEqual(miss.calls, []);
    });
  }

  it('finds the owner of ids it did not hand out (after a kubelet restart) by asking each runtime', async () => {
    const s = setup();
    const sb = await s.proc.runPodSandbox({} as never, 'k8ts');
    const cid = await s.proc.createContainer(sb, {} as never, {} as never);
    s.proc.calls.length = 0;
    const fresh = new RuntimeHandlerRouter(s.containerd, [{ handlers: ['k8ts'], runtime: s.proc }]);
    assert.equal((await fresh.execSync(cid, ['true'], 1)).stdout.toString(), 'process');
    await fresh.stopPodSandbox(sb);
    assert.deepEqual(s.proc.calls, [`execSync(${cid})`, `stopPodSandbox(${sb})`]);
    await assert.rejects(fresh.containerStatus('nobody'), (err: unknown) => err instanceof RuntimeError && err.code === 'NotFound');
  });

  it('lists sandboxes, containers and images of every runtime', async () => {
    const s = setup();
    await s.router.runPodSandbox({} as never, '');
    await s.router.runPodSandbox({} as never, 'k8ts');
    assert.equal((await s.router.listPodSandbox()).length, 2);
    assert.deepEqual((await s.router.listImages()).map((i) => i.id).sort(), ['sha256:containerd', 'sha256:process']);
  });

  it('looks images up and pulls them in the store of the handler named in the ImageSpec', async () => {
    const s = setup();
    await s.router.imageStatus({ image: 'k8ts.io/k8ts:v1', runtimeHandler: 'k8ts' });
    await s.router.pullImage({ image: 'busybox' });
    assert.deepEqual(s.proc.calls, ['imageStatus(k8ts.io/k8ts:v1)']);
    assert.deepEqual(s.containerd.calls, ['pullImage(busybox)']);
  });

  it('removing a missing sandbox or container is not an error (CRI)', async () => {
    const s = setup();
    await s.router.removePodSandbox('gone');
    await s.router.removeContainer('gone');
  });

  it('reports the default runtime\'s version, so the node shows its runtime', async () => {
    assert.equal((await setup().router.version()).runtimeName, 'containerd');
  });
});
