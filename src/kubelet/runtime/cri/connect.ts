// How a node gets its containerd runtime: the given --container-runtime-endpoint, or a containerd
// k8ts starts itself when one is installed (like k3s). Also the file that tells `k8ts crictl` which
// socket the kubelet uses.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RuntimeError } from '../types.js';
import { ManagedContainerd, containerdInstalled, type ManagedContainerdOptions } from './managedContainerd.js';
import { runtimeEndpointFile } from './paths.js';
import { CriRuntime } from './runtime.js';

export interface ContainerdRuntimeOptions extends Omit<ManagedContainerdOptions, 'dataDir'> {
  dataDir: string;
  /** `unix:///…` of a containerd (or any CRI runtime) someone else runs; empty = manage our own. */
  endpoint?: string;
  requestTimeoutMs?: number;
  /** RuntimeClass handlers of an external runtime (a managed one knows its own). */
  handlers?: readonly string[];
}

export interface ContainerdRuntime {
  runtime: CriRuntime;
  /** Present when k8ts started (or reused) the containerd; close it at shutdown to stop containerd. */
  managed?: ManagedContainerd;
}

export { runtimeEndpointFile };

export async function writeRuntimeEndpointFile(dataDir: string, endpoint: string): Promise<void> {
  const file = runtimeEndpointFile(dataDir);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${endpoint}\n`);
  await rename(`${file}.tmp`, file);
}

export async function readRuntimeEndpointFile(dataDir: string): Promise<string | undefined> {
  const text = await readFile(runtimeEndpointFile(dataDir), 'utf8').catch(() => '');
  return text.trim() || undefined;
}

/**
 * Connects to the given endpoint, or starts the node's own containerd; waits until it answers and
 * records the endpoint for `k8ts crictl`. Throws Unavailable when neither is possible.
 */
export async function connectContainerdRuntime(opts: ContainerdRuntimeOptions): Promise<ContainerdRuntime> {
  const timeout = opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {};
  if (opts.endpoint) {
    const runtime = new CriRuntime({ endpoint: opts.endpoint, ...timeout, ...(opts.handlers ? { handlers: opts.handlers } : {}) });
    try {
      await runtime.waitReady(opts.startTimeoutMs ?? 15_000, opts.signal);
    } catch (err) {
      await runtime.close();
      throw err;
    }
    await writeRuntimeEndpointFile(opts.dataDir, runtime.endpoint);
    return { runtime };
  }
  if (!containerdInstalled(opts.containerdPath)) {
    throw new RuntimeError('Unavailable', 'no --container-runtime-endpoint given and containerd is not installed (apt-get install containerd runc)');
  }
  const managed = await ManagedContainerd.start(opts);
  const runtime = managed.runtime(timeout);
  await writeRuntimeEndpointFile(opts.dataDir, managed.endpoint);
  return { runtime, managed };
}
