// `k8ts killall`: like k3s-killall.sh, stops every container and pod sandbox of the node in a data
// dir (containers outlive the kubelet by design), stops the containerd k8ts started, and unmounts
// what the node mounted under its data dir. The cluster's state (datastore) is left alone.
import { logger } from '../util/log.js';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ContainerRuntime } from '../kubelet/runtime/types.js';

export interface KillallOptions {
  dataDir: string;
  cniBridge?: string;
}

async function stopAll(rt: Pick<ContainerRuntime, 'listPodSandbox' | 'listContainers' | 'stopContainer' | 'removeContainer' | 'stopPodSandbox' | 'removePodSandbox'>): Promise<number> {
  const containers = await rt.listContainers();
  await Promise.all(containers.map((c) => rt.stopContainer(c.id, 0).catch(() => undefined)));
  await Promise.all(containers.map((c) => rt.removeContainer(c.id).catch(() => undefined)));
  const sandboxes = await rt.listPodSandbox();
  for (const sb of sandboxes) {
    await rt.stopPodSandbox(sb.id).catch(() => undefined);
    await rt.removePodSandbox(sb.id).catch(() => undefined);
  }
  return sandboxes.length;
}

/** Mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string, mountinfo: string): string[] {
  const root = resolve(dir);
  const points = mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === root || p.startsWith(`${root}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function runKillall(o: KillallOptions): Promise<void> {
  const agent = join(o.dataDir, 'agent');
  const endpointFile = join(agent, 'runtime-endpoint');
  const endpoint = existsSync(endpointFile) ? readFileSync(endpointFile, 'utf8').trim() : '';
  let pods = 0;
  // The process runtime: the node's runtime, or on containerd nodes the one of RuntimeClass k8ts.
  if (existsSync(join(agent, 'runtime', 'sandboxes'))) {
    const { FileImageStore } = await import('../kubelet/images/store.js');
    const { ProcessRuntime } = await import('../kubelet/runtime/process/runtime.js');
    const rt = new ProcessRuntime({ root: join(agent, 'runtime'), images: new FileImageStore({ root: join(agent, 'images') }), cni: { confDir: join(agent, 'cni', 'net.d'), ...(o.cniBridge ? { bridge: o.cniBridge } : {}) } });
    pods += await stopAll(rt);
    await rt.close();
  }
  if (!endpoint.endsWith('k8ts-cri.sock') && existsSync(join(agent, 'containerd', 'config.toml'))) {
    const { ManagedContainerd } = await import('../kubelet/runtime/cri/managedContainerd.js');
    const managed = await ManagedContainerd.start({ dataDir: o.dataDir }).catch(() => undefined);
    if (managed) {
      const rt = managed.runtime();
      pods += await stopAll(rt);
      await rt.close();
      await managed.close();
    }
  }
  let unmounted = 0;
  for (const m of mountsUnder(o.dataDir, readFileSync('/proc/self/mountinfo', 'utf8'))) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'pipe' });
      unmounted++;
    } catch {
      // already gone
    }
  }
  try {
    // The node's NetworkPolicy table (named after its bridge); nothing to do when nft or the table is absent.
    const { netpolTableName } = await import('../network/policy/ruleset.js');
    const table = netpolTableName(o.cniBridge);
    execFileSync('nft', ['-f', '-'], { input: `table inet ${table} {}\ndelete table inet ${table}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch {
    // no nft
  }
  try {
    // The node's pod masquerade chain (named after its bridge) and its POSTROUTING jump.
    const { removePodMasquerade } = await import('../network/podMasquerade.js');
    await removePodMasquerade(o.cniBridge ? { bridge: o.cniBridge } : {});
  } catch (err) {
    logger('killall').warn({ err: (err as Error).message }, 'could not remove the pod masquerade rules');
  }
  // kube-proxy's rules (every mode) stay in the kernel when its pod stops, as upstream's do;
  // removing the node removes them too, like k3s-killall.sh.
  try {
    const { cleanupAllModes } = await import('../network/proxy/backends.js');
    const { commandRunner } = await import('../network/proxy/exec.js');
    const { ProxyMetrics } = await import('../network/proxy/metrics.js');
    const log = logger('killall');
    for (const family of ['IPv4', 'IPv6'] as const) await cleanupAllModes({ family, exec: commandRunner(), metrics: new ProxyMetrics(), log });
  } catch {
    // no iptables/nft here
  }
  if (o.cniBridge) {
    try {
      execFileSync('ip', ['link', 'delete', o.cniBridge], { stdio: 'pipe' });
    } catch {
      // not there
    }
  }
  process.stdout.write(`k8ts killall: stopped ${pods} pod sandboxes, unmounted ${unmounted} mounts under ${o.dataDir}\n`);
}
