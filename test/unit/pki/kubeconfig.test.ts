import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { createCA, issueClientCertificate, type CertificateAuthority, type IssuedCertificate } from '../../../src/pki/ca.js';
import { isPKIError } from '../../../src/pki/errors.js';
import { buildKubeconfig, loadKubeconfig, parseKubeconfig, readKubeconfig, renderKubeconfig, resolveKubeconfig, writeKubeconfig } from '../../../src/pki/kubeconfig.js';
import { tempDir } from '../../support/tmp.js';

const tmp = tempDir('k8ts-kubeconfig-');
let ca: CertificateAuthority;
let admin: IssuedCertificate;
before(async () => {
  ca = await createCA();
  admin = await issueClientCertificate(ca, { user: 'kubernetes-admin', groups: ['system:masters'] });
});
after(() => tmp.remove());

describe('kubeconfig', () => {
  it('is written as clientcmd v1 YAML with embedded base64 credentials, mode 0600', async () => {
    const path = join(tmp.path, 'admin.conf');
    await writeKubeconfig(path, { name: 'k8ts', server: 'https://127.0.0.1:6443', caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem });
    assert.equal((statSync(path).mode & 0o777).toString(8), '600');
    const doc = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    assert.deepEqual(doc, {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'k8ts', cluster: { 'certificate-authority-data': b64(ca.certPem), server: 'https://127.0.0.1:6443' } }],
      contexts: [{ name: 'k8ts', context: { cluster: 'k8ts', user: 'k8ts' } }],
      'current-context': 'k8ts',
      preferences: {},
      users: [{ name: 'k8ts', user: { 'client-certificate-data': b64(admin.certPem), 'client-key-data': b64(admin.keyPem) } }],
    });
    // Base64 stays on one line (kubectl reads folded YAML too, but people grep these files).
    assert.ok(readFileSync(path, 'utf8').split('\n').some((l) => l.includes(`client-key-data: ${b64(admin.keyPem)}`)));
  });

  it('round-trips: what is written resolves to the same server and PEMs', async () => {
    const path = join(tmp.path, 'rt.conf');
    await writeKubeconfig(path, { name: 'k8ts', server: 'https://[::1]:6443', caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem, namespace: 'dev' });
    const r = await loadKubeconfig(path);
    assert.deepEqual(r, {
      contextName: 'k8ts',
      clusterName: 'k8ts',
      userName: 'k8ts',
      namespace: 'dev',
      server: 'https://[::1]:6443',
      caPem: ca.certPem,
      insecureSkipTLSVerify: false,
      tlsServerName: undefined,
      clientCertPem: admin.certPem,
      clientKeyPem: admin.keyPem,
      token: undefined,
    });
    assert.deepEqual(await readKubeconfig(path), buildKubeconfig({ name: 'k8ts', server: 'https://[::1]:6443', caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem, namespace: 'dev' }));
  });

  it('names cluster, user and context separately when asked, kubeadm style', () => {
    const cfg = buildKubeconfig({ name: 'x', clusterName: 'kubernetes', userName: 'kubernetes-admin', contextName: 'kubernetes-admin@kubernetes', server: 'https://h:6443', caPem: ca.certPem, token: 't' });
    assert.equal(cfg['current-context'], 'kubernetes-admin@kubernetes');
    assert.deepEqual(cfg.contexts[0]?.context, { cluster: 'kubernetes', user: 'kubernetes-admin' });
    assert.deepEqual(cfg.users[0], { name: 'kubernetes-admin', user: { token: 't' } });
  });

  it('resolves file references relative to the kubeconfig folder, and tokenFile', async () => {
    writeFileSync(join(tmp.path, 'ca.crt'), ca.certPem);
    writeFileSync(join(tmp.path, 'tok'), 'sekret\n');
    const text = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: { server: "https://h:1", certificate-authority: ca.crt, tls-server-name: kubernetes }
users:
- name: u
  user: { tokenFile: ${join(tmp.path, 'tok')} }
contexts:
- name: a
  context: { cluster: c, user: u }
- name: b
  context: { cluster: c, user: nobody }
current-context: a
`;
    const cfg = parseKubeconfig(text);
    const r = await resolveKubeconfig(cfg, { baseDir: tmp.path });
    assert.equal(r.caPem, ca.certPem);
    assert.equal(r.token, 'sekret');
    assert.equal(r.tlsServerName, 'kubernetes');
    // A context whose user is not defined resolves with no credentials, as clientcmd does.
    const b = await resolveKubeconfig(cfg, { baseDir: tmp.path, context: 'b' });
    assert.equal(b.token, undefined);
  });

  const broken: Array<[string, string, string | undefined]> = [
    ['a list at the top', '- a\n- b\n', undefined],
    ['another kind', 'kind: Pod\napiVersion: v1\n', undefined],
    ['clusters that are not a list', 'clusters: {a: 1}\n', undefined],
    ['a cluster without a name', 'clusters:\n- cluster: {server: x}\n', undefined],
    ['no current context', 'apiVersion: v1\nkind: Config\n', 'resolve'],
    ['a current context that does not exist', 'current-context: nope\n', 'resolve'],
    ['a context whose cluster does not exist', 'current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n', 'resolve'],
    ['unparsable YAML', 'a: [\n', undefined],
  ];
  for (const [name, text, stage] of broken) {
    it(`rejects ${name} with InvalidKubeconfig`, async () => {
      const check = (e: unknown) => isPKIError(e, 'InvalidKubeconfig');
      if (stage === 'resolve') await assert.rejects(resolveKubeconfig(parseKubeconfig(text)), check);
      else assert.throws(() => parseKubeconfig(text), check);
    });
  }

  it('refuses a certificate without its key', () => {
    assert.throws(() => buildKubeconfig({ name: 'k', server: 's', caPem: ca.certPem, certPem: admin.certPem }), (e: unknown) => isPKIError(e, 'InvalidKubeconfig'));
  });

  it('renders what it parses', () => {
    const cfg = buildKubeconfig({ name: 'k', server: 'https://h:6443', caPem: ca.certPem, token: 'abc' });
    assert.deepEqual(parseKubeconfig(renderKubeconfig(cfg)), cfg);
  });
});
