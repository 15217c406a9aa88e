// The node's pod network as a CNI conflist for containerd's CRI plugin: a bridge with the node as
// gateway, host-local IPAM over the node's podCIDR, portmap for hostPort. (containerd sets up the
// pod's loopback itself, so `loopback` is not in the chain: in a chain it would act on eth0.)
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeNetworkConflist } from '../../../network/cni/conflist.js';

export interface NodeConflistOptions {
  podCIDR: string;
  /** Network name; also names the iptables chains the plugins create. */
  name?: string;
  /** Linux bridge on the host (at most 15 characters). */
  bridge?: string;
  /** host-local's allocation state; default the plugin's /var/lib/cni/networks (shared by all nodes on a machine). */
  ipamDataDir?: string;
  /** The bridge plugin's per-pod masquerade; default false (the agent masquerades per node, src/network/podMasquerade.ts). */
  ipMasq?: boolean;
  mtu?: number;
}

export const CONFLIST_FILE = '10-k8ts.conflist';

/** The conflist document (pure): the same node network the process runtime uses (src/network/cni). */
export function nodeConflist(opts: NodeConflistOptions): Record<string, unknown> {
  if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(opts.podCIDR)) throw new Error(`podCIDR ${JSON.stringify(opts.podCIDR)} is not a CIDR`);
  return nodeNetworkConflist({
    podCIDRs: [opts.podCIDR],
    bridge: opts.bridge ?? 'k8ts0',
    name: opts.name ?? 'k8ts',
    ...(opts.ipamDataDir ? { ipamDataDir: opts.ipamDataDir } : {}),
    ...(opts.ipMasq !== undefined ? { ipMasq: opts.ipMasq } : {}),
    ...(opts.mtu ? { mtu: opts.mtu } : {}),
  }) as unknown as Record<string, unknown>;
}

/** Writes the conflist atomically into `confDir` (containerd watches the folder and reloads it). */
export async function writeNodeConflist(confDir: string, opts: NodeConflistOptions): Promise<string> {
  await mkdir(confDir, { recursive: true });
  const file = join(confDir, CONFLIST_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(nodeConflist(opts), null, 2)}\n`);
  await rename(tmp, file);
  return file;
}
