// The proxy lab itself: pods answer on the bridge, the outside host reaches the node, and destroy() leaves nothing behind.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LAB_HTTP_PORT, LAB_UDP_PORT, NetnsLab, run } from '../../../support/netnsLab.js';

describe('netns lab', () => {
  it('connects pods to the node bridge and the outside host to the node, and removes every namespace on destroy', async () => {
    const lab = await NetnsLab.create({ owner: 'proxy', pods: 2 });
    try {
      const [a, b] = lab.pods;
      const fromNode = await lab.http(lab.nodeNs, `http://${a!.ip}:${LAB_HTTP_PORT}/`);
      assert.equal(fromNode.kind, 'ok');
      assert.equal(fromNode.kind === 'ok' && fromNode.body, `pod0 ${lab.bridgeIP}`);
      const podToPod = await lab.http(b!.ns, `http://${a!.ip}:${LAB_HTTP_PORT}/`);
      assert.equal(podToPod.kind === 'ok' && podToPod.body, `pod0 ${b!.ip}`);
      const extToPod = await lab.http(lab.extNs, `http://${b!.ip}:${LAB_HTTP_PORT}/`);
      assert.equal(extToPod.kind === 'ok' && extToPod.body, `pod1 ${lab.extIP}`);
      const udp = await lab.udp(lab.nodeNs, a!.ip, LAB_UDP_PORT, { message: 'hi' });
      assert.deepEqual(udp, { kind: 'ok', body: `pod0 ${lab.bridgeIP} hi` });
    } finally {
      await lab.destroy();
    }
    const left = await run('ip', ['netns', 'list']);
    assert.ok(!left.stdout.includes(lab.tag), `namespaces left behind: ${left.stdout}`);
  });
});
