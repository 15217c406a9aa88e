import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { PodHostnameError, ensureHostsFile, managedHostsFileContent, nodeHostsFileContent, podHostnameAndDomain, shouldMountHostsFile } from '../../../../src/kubelet/hosts.js';
import { tempDir } from '../../../support/tmp.js';

const LOCAL =
  '# Kubernetes-managed hosts file.\n' +
  '127.0.0.1\tlocalhost\n' +
  '::1\tlocalhost ip6-localhost ip6-loopback\n' +
  'fe00::0\tip6-localnet\n' +
  'fe00::0\tip6-mcastprefix\n' +
  'fe00::1\tip6-allnodes\n' +
  'fe00::2\tip6-allrouters\n';

describe('managed /etc/hosts content', () => {
  const table: Array<[string, Parameters<typeof managedHostsFileContent>, string]> = [
    ['pod IP and hostname', [['10.42.0.7'], 'web-0', ''], LOCAL + '10.42.0.7\tweb-0\n'],
    ['with a subdomain: FQDN first', [['10.42.0.7'], 'web-0', 'web.apps.svc.cluster.local'], LOCAL + '10.42.0.7\tweb-0.web.apps.svc.cluster.local\tweb-0\n'],
    ['dual stack: one line per IP', [['10.42.0.7', 'fd42::7'], 'web-0', ''], LOCAL + '10.42.0.7\tweb-0\nfd42::7\tweb-0\n'],
    [
      'host aliases, one line per IP',
      [['10.42.0.7'], 'web-0', '', [{ ip: '1.2.3.4', hostnames: ['foo.local', 'bar.local'] }, { ip: '5.6.7.8', hostnames: ['baz'] }]],
      LOCAL + '10.42.0.7\tweb-0\n\n# Entries added by HostAliases.\n1.2.3.4\tfoo.local\tbar.local\n5.6.7.8\tbaz\n',
    ],
  ];
  for (const [name, args, want] of table) it(name, () => assert.equal(managedHostsFileContent(...args), want));

  it('host network: the node file under its own header, plus aliases', () => {
    assert.equal(
      nodeHostsFileContent('127.0.0.1 localhost\n', [{ ip: '1.2.3.4', hostnames: ['a'] }]),
      '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n\n# Entries added by HostAliases.\n1.2.3.4\ta\n',
    );
  });
});

function pod(name: string, spec: Partial<NonNullable<Pod['spec']>> = {}): Pod {
  return { metadata: { name, namespace: 'apps' }, spec: { containers: [{ name: 'c' }], ...spec } };
}

describe('pod hostname and domain', () => {
  const table: Array<[string, Pod, { hostname: string; hostDomain: string }]> = [
    ['the pod name by default', pod('web-0'), { hostname: 'web-0', hostDomain: '' }],
    ['spec.hostname wins', pod('web-0', { hostname: 'db' }), { hostname: 'db', hostDomain: '' }],
    ['subdomain gives the domain', pod('web-0', { subdomain: 'web' }), { hostname: 'web-0', hostDomain: 'web.apps.svc.cluster.local' }],
    ['a long name is cut to 63 without a trailing dash', pod('a'.repeat(62) + '-bbbb'), { hostname: 'a'.repeat(62), hostDomain: '' }],
  ];
  for (const [name, p, want] of table) it(name, () => assert.deepEqual(podHostnameAndDomain(p, 'cluster.local'), want));

  it('refuses an invalid hostname with upstream message', () => {
    assert.throws(
      () => podHostnameAndDomain(pod('x', { hostname: 'Bad_Name' }), 'cluster.local'),
      (e: unknown) => e instanceof PodHostnameError && e.message.startsWith('pod Hostname "Bad_Name" is not a valid DNS label: a lowercase RFC 1123 label must consist of'),
    );
  });
});

describe('hosts file on disk', () => {
  it('writes <podDir>/etc-hosts with mode 0644 and returns the /etc/hosts mount', async () => {
    const dir = tempDir();
    try {
      const mount = await ensureHostsFile({ podDir: dir.path, podIPs: ['10.42.0.7'], hostname: 'web-0', hostDomain: '', hostNetwork: false });
      assert.deepEqual(mount, { containerPath: '/etc/hosts', hostPath: join(dir.path, 'etc-hosts'), readonly: false, selinuxRelabel: true });
      assert.equal(readFileSync(mount.hostPath, 'utf8'), LOCAL + '10.42.0.7\tweb-0\n');
      assert.equal(statSync(mount.hostPath).mode & 0o777, 0o644);
    } finally {
      dir.remove();
    }
  });

  it('copies the node hosts file for host-network pods', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'node-hosts'), '127.0.0.1 localhost node-a\n');
      const mount = await ensureHostsFile({ podDir: dir.path, podIPs: [], hostname: 'node-a', hostDomain: '', hostNetwork: true, nodeHostsPath: join(dir.path, 'node-hosts') });
      assert.equal(readFileSync(mount.hostPath, 'utf8'), '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost node-a\n');
    } finally {
      dir.remove();
    }
  });

  it('mounts only with a pod IP or on the host network, and not over a volume at /etc/hosts', () => {
    assert.equal(shouldMountHostsFile(pod('a'), []), false);
    assert.equal(shouldMountHostsFile(pod('a'), ['10.42.0.7']), true);
    assert.equal(shouldMountHostsFile(pod('a', { hostNetwork: true }), []), true);
    assert.equal(shouldMountHostsFile(pod('a'), ['10.42.0.7'], ['/etc/hosts']), false);
  });
});
