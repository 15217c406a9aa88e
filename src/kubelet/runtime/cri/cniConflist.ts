// The node's pod network as a CNI conflist for containerd's CRI plugin: a bridge with the node as
// gateway, host-local IPAM over the node's podCIDR, portmap for hostPort. (containerd sets up the
// pod's loopback itself, so `loopback` is not in the chain: in a chain it would act on eth0.)
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface NodeConflistOptions {
  podCIDR: string;
  /** Network name; also names the iptables chains the plugins create. */
  name?: string;
  /** Linux bridge on the host (at most 15 characters). */
  bridge?: string;
  /** host-local's allocation state; default the plugin's /var/lib/cni/networks (shared by all nodes on a machine). */
  ipamDataDir?: string;
  /** Masquerade traffic leaving the pod network (needs iptables). */
  ipMasq?: boolean;
  mtu?: number;
}

export const CONFLIST_FILE = '10-k8ts.conflist';

/** The conflist document (pure). */
export function nodeConflist(opts: NodeConflistOptions): Record<string, unknown> {
  const bridge = opts.bridge ?? 'k8ts0';
  if (bridge.length > 15) throw new Error(`bridge name ${JSON.stringify(bridge)} is longer than 15 characters`);
  if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(opts.podCIDR)) throw new Error(`podCIDR ${JSON.stringify(opts.podCIDR)} is not a CIDR`);
  const ipv6 = opts.podCIDR.includes(':');
  const ipam: Record<string, unknown> = {
    type: 'host-local',
    ranges: [[{ subnet: opts.podCIDR }]],
    routes: [{ dst: ipv6 ? '::/0' : '0.0.0.0/0' }],
  };
  if (opts.ipamDataDir) ipam.dataDir = opts.ipamDataDir;
  const bridgePlugin: Record<string, unknown> = {
    type: 'bridge',
    bridge,
    isGateway: true,
    ipMasq: opts.ipMasq ?? true,
    hairpinMode: true,
    ipam,
  };
  if (opts.mtu) bridgePlugin.mtu = opts.mtu;
  return {
    cniVersion: '1.0.0',
    name: opts.name ?? 'k8ts',
    plugins: [bridgePlugin, { type: 'portmap', capabilities: { portMappings: true }, snat: true }],
  };
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
