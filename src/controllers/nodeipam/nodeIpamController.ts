// The node IPAM controller (upstream `node-ipam-controller` with the RangeAllocator): gives every
// node a pod CIDR (one per cluster CIDR family) from --cluster-cidr, never the same twice; what is
// in use is rebuilt from the nodes themselves, so a restart loses nothing.

import type { Node } from 'kubernetes-types/core/v1.js';
import { isNotFound } from '../../client/apiError.js';
import { keyOf, newQueue, runQueueWorkers, type Controller, type ControllerContext } from '../controller.js';
import { CidrSet } from './cidrSet.js';

export const NODE_IPAM_CONTROLLER = 'node-ipam-controller';
/** Upstream's default --node-cidr-mask-size-ipv6. */
export const DEFAULT_IPV6_NODE_MASK = 64;
const CIDR_UPDATE_RETRIES = 3;

/** One CidrSet per comma-separated cluster CIDR: IPv4 ones cut at `ipv4Mask`, IPv6 at `ipv6Mask`. */
export function newCidrSets(clusterCIDR: string, ipv4Mask: number, ipv6Mask = DEFAULT_IPV6_NODE_MASK): CidrSet[] {
  return clusterCIDR
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c)
    .map((c) => new CidrSet(c, c.includes(':') ? ipv6Mask : ipv4Mask));
}

export function newNodeIpamController(ctx: ControllerContext): Controller {
  const log = ctx.log.child({ controller: NODE_IPAM_CONTROLLER });
  const queue = newQueue(NODE_IPAM_CONTROLLER);
  const nodes = ctx.informers.informerFor<Node>('', 'v1', 'nodes');
  const client = ctx.client.resource<Node>('', 'v1', 'nodes');
  const recorder = ctx.recorder('cidrAllocator');
  const sets = newCidrSets(ctx.options.clusterCIDR, ctx.options.nodeCIDRMaskSize);
  /** What this controller believes each node holds (occupied from the node or allocated for it). */
  const byNode = new Map<string, string[]>();

  const statusChange = (n: Readonly<Node>, status: string) =>
    recorder.event({ apiVersion: 'v1', kind: 'Node', name: n.metadata?.name ?? '', uid: n.metadata?.uid ?? '', namespace: '' }, 'Normal', status, `Node ${n.metadata?.name} status is now: ${status}`);

  nodes.addEventHandler({
    onAdd: (n) => queue.add(keyOf(n)),
    onUpdate: (_o, n) => {
      if (!n.spec?.podCIDRs?.length) queue.add(keyOf(n));
    },
    onDelete: (n) => queue.add(keyOf(n)),
  });

  function release(cidrs: readonly string[]): void {
    cidrs.forEach((c, i) => {
      try {
        sets[i]?.release(c);
      } catch (err) {
        log.warn({ err, cidr: c }, 'failed to release CIDR');
      }
    });
  }

  /** Marks a node's own CIDRs as used (occupyCIDRs); CIDRs beyond our families are ignored. */
  function occupy(n: Readonly<Node>): void {
    const name = n.metadata!.name!;
    const cidrs = n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []);
    const had = byNode.get(name);
    if (had && had.join(',') === cidrs.join(',')) return;
    if (had) release(had);
    cidrs.forEach((c, i) => {
      if (i >= sets.length) return;
      try {
        sets[i]!.occupy(c);
      } catch (err) {
        log.warn({ err, node: name, cidr: c }, `failed to mark cidr[${c}] at idx [${i}] as occupied for node: ${name}`);
      }
    });
    byNode.set(name, [...cidrs]);
  }

  async function sync(name: string, signal: AbortSignal): Promise<void> {
    const node = nodes.get(undefined, name);
    if (!node) {
      const had = byNode.get(name);
      if (had) release(had);
      byNode.delete(name);
      return;
    }
    if (node.spec?.podCIDRs?.length || node.spec?.podCIDR) {
      occupy(node);
      return;
    }
    // Allocated earlier but the cache has not seen the patch yet: reuse, never allocate twice.
    let cidrs = byNode.get(name);
    if (!cidrs) {
      cidrs = [];
      for (let i = 0; i < sets.length; i++) {
        try {
          cidrs.push(sets[i]!.allocateNext());
        } catch (err) {
          release(cidrs);
          statusChange(node, 'CIDRNotAvailable');
          throw new Error(`failed to allocate cidr from cluster cidr at idx:${i}: ${(err as Error).message}`);
        }
      }
      byNode.set(name, cidrs);
    }
    let lastErr: unknown;
    for (let attempt = 0; attempt < CIDR_UPDATE_RETRIES; attempt++) {
      try {
        const fresh = await client.get(undefined, name, { signal });
        const have = fresh.spec?.podCIDRs ?? [];
        if (have.length) {
          // Someone (or an earlier sync of ours) set CIDRs: keep those, free what we reserved.
          if (have.join(',') !== cidrs.join(',')) {
            release(cidrs);
            byNode.delete(name);
            occupy(fresh);
          }
          return;
        }
        await client.patch(undefined, name, { metadata: { uid: fresh.metadata?.uid }, spec: { podCIDR: cidrs[0], podCIDRs: cidrs } }, { type: 'strategic', signal });
        log.info({ node: name, podCIDRs: cidrs }, 'set node PodCIDR');
        return;
      } catch (err) {
        if (isNotFound(err)) {
          release(cidrs);
          byNode.delete(name);
          return;
        }
        lastErr = err;
      }
    }
    statusChange(node, 'CIDRAssignmentFailed');
    release(cidrs);
    byNode.delete(name);
    throw lastErr;
  }

  return {
    name: NODE_IPAM_CONTROLLER,
    async run(signal) {
      if (!ctx.options.allocateNodeCIDRs) {
        log.info('--allocate-node-cidrs is false: node IPAM does nothing');
        return;
      }
      while (!nodes.hasSynced() && !signal.aborted) await new Promise((r) => setTimeout(r, 50));
      // Rebuild what is taken from the nodes before handing anything out.
      for (const n of nodes.list()) if (n.spec?.podCIDRs?.length || n.spec?.podCIDR) occupy(n);
      await runQueueWorkers({ name: NODE_IPAM_CONTROLLER, queue, sync, workers: 1, synced: [() => nodes.hasSynced()], log }, signal);
    },
  };
}
