import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { conflistNeedsWrite, nodeNetworkConflist } from '../../../../src/network/cni/conflist.js';
import type { CniNetworkConfList } from '../../../../src/network/cni/invoke.js';
import { addNetworkList, delNetworkList, pluginStdinConf, resultIps, CniError, loadDefaultNetwork } from '../../../../src/network/cni/invoke.js';
import { tempDir } from '../../../support/tmp.js';

describe('nodeNetworkConflist', () => {
  it('bridge (gateway, hairpin; the node masquerades, not the plugin) with host-local over the podCIDR, then portmap', () => {
    const list = nodeNetworkConflist({ podCIDRs: ['10.42.0.0/24'], bridge: 'k8ts0', ipamDataDir: '/d' });
    assert.equal(list.cniVersion, '1.0.0');
    assert.deepEqual(list.plugins.map((p) => p.type), ['bridge', 'portmap']);
    assert.deepEqual(list.plugins[0], {
      type: 'bridge',
      bridge: 'k8ts0',
      isGateway: true,
      ipMasq: false,
      hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.42.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: '/d' },
    });
    assert.deepEqual(list.plugins[1]?.capabilities, { portMappings: true });
  });
  it('refuses bridge names longer than 15 bytes', () => {
    assert.throws(() => nodeNetworkConflist({ podCIDRs: ['10.0.0.0/24'], bridge: 'a-very-long-bridge' }));
  });
});

describe('conflistNeedsWrite', () => {
  const wanted = nodeNetworkConflist({ podCIDRs: ['10.42.0.0/24'], ipamDataDir: '/d' });
  const withMasq = nodeNetworkConflist({ podCIDRs: ['10.42.0.0/24'], ipamDataDir: '/d', ipMasq: true });
  const user: CniNetworkConfList = { cniVersion: '1.0.0', name: 'mynet', plugins: [{ type: 'bridge', ipMasq: true, ipam: wanted.plugins[0]!.ipam }] };
  const otherRange: CniNetworkConfList = { cniVersion: '1.0.0', name: 'mynet', plugins: [{ type: 'bridge', ipam: { type: 'host-local', ranges: [[{ subnet: '10.99.0.0/24' }]] } }] };
  const table: [string, CniNetworkConfList | undefined, boolean][] = [
    ['no network yet: write ours', undefined, true],
    ['our own conflist as wanted: leave it', JSON.parse(JSON.stringify(wanted)) as CniNetworkConfList, false],
    ['our own conflist from an earlier version with ipMasq true: rewrite it without', withMasq, true],
    ['a user network over the node range (its ipMasq is its business): leave it', user, false],
    ['a user network over another range: ours replaces it', otherRange, true],
  ];
  for (const [name, current, want] of table) it(name, () => assert.equal(conflistNeedsWrite(current, wanted), want));
});

describe('pluginStdinConf', () => {
  const list = nodeNetworkConflist({ podCIDRs: ['10.42.0.0/24'] });
  const rt = { containerId: 'c', netns: '/n', ifName: 'eth0', capabilityArgs: { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }] } };
  it('injects name and cniVersion, and runtimeConfig only for declared capabilities', () => {
    const bridge = pluginStdinConf(list, list.plugins[0]!, rt);
    assert.equal(bridge.name, 'k8ts');
    assert.equal(bridge.runtimeConfig, undefined);
    const portmap = pluginStdinConf(list, list.plugins[1]!, rt, { cniVersion: '1.0.0', ips: [{ address: '10.42.0.5/24' }] });
    assert.deepEqual(portmap.runtimeConfig, { portMappings: rt.capabilityArgs.portMappings });
    assert.deepEqual(portmap.prevResult, { cniVersion: '1.0.0', ips: [{ address: '10.42.0.5/24' }] });
  });
});

describe('CNI plugin execution (fake plugins in a temp bin dir)', () => {
  it('chains prevResult on ADD, walks DEL backwards, and maps plugin errors', async () => {
    const tmp = tempDir();
    try {
      const record = join(tmp.path, 'calls');
      // A plugin that records (command, type, had prevResult) and answers with an IP on ADD.
      const script = (type: string, fail = false) =>
        `#!/bin/sh\nconf=$(cat)\necho "$CNI_COMMAND ${type} $CNI_IFNAME $(echo "$conf" | grep -c prevResult)" >> ${record}\n` +
        (fail ? `echo '{"cniVersion":"1.0.0","code":11,"msg":"no luck","details":"really"}'; exit 1\n` : `[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","ips":[{"address":"10.9.9.${type === 'one' ? 1 : 2}/24"}]}'\nexit 0\n`);
      for (const [name, fail] of [['one', false], ['two', false], ['bad', true]] as const) {
        writeFileSync(join(tmp.path, name), script(name, fail));
        chmodSync(join(tmp.path, name), 0o755);
      }
      const list = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'one' }, { type: 'two' }] };
      const rt = { containerId: 'c', netns: '/n', ifName: 'eth0' };
      const res = await addNetworkList(list, rt, { binDir: tmp.path });
      assert.deepEqual(resultIps(res), ['10.9.9.2']);
      await delNetworkList(list, rt, { binDir: tmp.path }, res);
      const { readFileSync } = await import('node:fs');
      assert.deepEqual(readFileSync(record, 'utf8').trim().split('\n'), ['ADD one eth0 0', 'ADD two eth0 1', 'DEL two eth0 1', 'DEL one eth0 1']);
      await assert.rejects(addNetworkList({ ...list, plugins: [{ type: 'bad' }] }, rt, { binDir: tmp.path }), (e: unknown) => e instanceof CniError && e.code === 11 && /no luck: really/.test(e.message));
      await assert.rejects(addNetworkList({ ...list, plugins: [{ type: 'missing' }] }, rt, { binDir: tmp.path }), /failed to find plugin "missing"/);
      writeFileSync(join(tmp.path, '20-b.conflist'), JSON.stringify({ ...list, name: 'second' }));
      writeFileSync(join(tmp.path, '10-a.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'first', type: 'bridge' }));
      assert.deepEqual(await loadDefaultNetwork(tmp.path), { cniVersion: '1.0.0', name: 'first', plugins: [{ type: 'bridge' }] });
    } finally {
      tmp.remove();
    }
  });
});
