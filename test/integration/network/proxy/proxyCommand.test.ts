// `k8ts proxy` as a user runs it: a bad --config is refused with upstream's strict-decoding
// message, and --cleanup (run inside a lab node namespace) removes every rule kube-proxy made.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandRunner } from '../../../../src/network/proxy/exec.js';
import { IptablesProxier } from '../../../../src/network/proxy/iptables/proxier.js';
import { NetnsLab, run } from '../../../support/netnsLab.js';
import { tempDir } from '../../../support/tmp.js';

const BIN = fileURLToPath(new URL('../../../../../bin/k8ts', import.meta.url));

describe('k8ts proxy command', { timeout: 60_000 }, () => {
  it('refuses a config file with an unknown field, naming it, and exits 1', async () => {
    const dir = tempDir('k8ts-proxy-cfg-');
    try {
      const file = join(dir.path, 'config.yaml');
      writeFileSync(file, 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\niptables:\n  syncPeriods: 30s\n');
      const r = await run(process.execPath, [BIN, 'proxy', '--config', file], { timeoutMs: 20_000 });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /invalid kube-proxy configuration in .*config\.yaml: strict decoding error: unknown field "iptables\.syncPeriods"/);
    } finally {
      dir.remove();
    }
  });

  it('--cleanup removes every kube-proxy chain and jump rule of the node it runs on', async () => {
    const lab = await NetnsLab.create({ owner: 'proxy', pods: 1 });
    try {
      const backend = new IptablesProxier({ family: 'IPv4', exec: commandRunner(NetnsLab.execPrefix(lab.nodeNs)) });
      const name = { namespace: 'default', name: 'web', port: '', protocol: 'TCP' as const };
      await backend.sync(
        {
          family: 'IPv4',
          services: new Map([['default/web', { name, clusterIP: '10.96.0.50', port: 80, protocol: 'TCP', nodePort: 30080, externalIPs: [], loadBalancerVIPs: [], loadBalancerSourceRanges: [], stickyMaxAgeSeconds: 0, externalPolicyLocal: false, internalPolicyLocal: false, healthCheckNodePort: 0 }]]),
          endpoints: new Map([['default/web', [{ ip: lab.pods[0]!.ip, port: 8080, ready: true, serving: true, terminating: false, isLocal: true }]]]),
          nodeName: 'n',
          nodeIPs: [],
          clusterCIDRs: ['10.244.0.0/16'],
          masqueradeAll: false,
          masqueradeBit: 14,
          localhostNodePorts: false,
        },
        { full: true, services: new Set(), endpoints: new Set() },
      );
      assert.match(await lab.mustExec(lab.nodeNs, 'iptables-save'), /KUBE-SVC-/);
      const r = await lab.exec(lab.nodeNs, process.execPath, [BIN, 'proxy', '--cleanup'], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      const left = await lab.mustExec(lab.nodeNs, 'iptables-save');
      assert.doesNotMatch(left, /KUBE-/);
    } finally {
      await lab.destroy();
    }
  });
});
