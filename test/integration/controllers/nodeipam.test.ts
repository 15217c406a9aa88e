// The node IPAM controller against a real `k8ts server` with the real kubectl: nodes get distinct
// pod CIDRs, an exhausted range is reported as CIDRNotAvailable, and after a restart the
// allocations are rebuilt from the nodes (a freed CIDR is reused, a taken one never).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Event, Node } from 'kubernetes-types/core/v1.js';
import { newNodeIpamController } from '../../../src/controllers/nodeipam/nodeIpamController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

const nodeYaml = (name: string) => `apiVersion: v1\nkind: Node\nmetadata: {name: ${name}}\n`;

describe('node-ipam-controller', () => {
  let s: RunningServer;
  let h: Harness | undefined;
  const options = { clusterCIDR: '10.200.0.0/23', nodeCIDRMaskSize: 24 };

  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const cidrs = async (name: string) => ((JSON.parse(await ok(['get', 'node', name, '-o', 'json'])) as Node).spec?.podCIDRs ?? []);

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
  });
  after(async () => {
    await h?.stop();
    await s?.stop();
  });

  it('assigns distinct pod CIDRs, reports exhaustion, and rebuilds its allocations after a restart', async () => {
    h = await controllerHarness(s.kubeconfig, options);
    h.run(newNodeIpamController(h.ctx));
    await ok(['apply', '-f', '-'], nodeYaml('n1'));
    await ok(['apply', '-f', '-'], nodeYaml('n2'));
    const c1 = await waitFor('n1 podCIDRs', async () => ((await cidrs('n1')).length ? cidrs('n1') : undefined));
    const c2 = await waitFor('n2 podCIDRs', async () => ((await cidrs('n2')).length ? cidrs('n2') : undefined));
    assert.deepEqual([...c1, ...c2].sort(), ['10.200.0.0/24', '10.200.1.0/24']);
    const n1 = JSON.parse(await ok(['get', 'node', 'n1', '-o', 'json'])) as Node;
    assert.equal(n1.spec?.podCIDR, c1[0]);
    assert.match(await ok(['get', 'nodes', '-o', 'custom-columns=NAME:.metadata.name,CIDR:.spec.podCIDR']), /n1\s+10\.200\.\d\.0\/24/);

    await ok(['apply', '-f', '-'], nodeYaml('n3'));
    await waitFor('CIDRNotAvailable for n3', async () => {
      const l = JSON.parse(await ok(['get', 'events', '-A', '-o', 'json'])) as { items: Event[] };
      return l.items.some((e) => e.reason === 'CIDRNotAvailable' && e.involvedObject.name === 'n3' && e.message === 'Node n3 status is now: CIDRNotAvailable');
    });
    assert.deepEqual(await cidrs('n3'), []);

    // Restart: the new controller learns what is taken from the nodes; n1 leaves meanwhile.
    await h.stop();
    await ok(['delete', 'node', 'n1']);
    h = await controllerHarness(s.kubeconfig, options);
    h.run(newNodeIpamController(h.ctx));
    const c3 = await waitFor('n3 gets the freed CIDR', async () => ((await cidrs('n3')).length ? cidrs('n3') : undefined));
    assert.deepEqual(c3, c1);
    assert.deepEqual(await cidrs('n2'), c2);
  });
});
