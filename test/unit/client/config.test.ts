import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inClusterConfig, loadKubeconfigConfig } from '../../../src/client/config.js';
import { tempDir } from '../../support/tmp.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('client config', () => {
  it('resolves the current or a named context, keeping a relative tokenFile as a path', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'tok'), 'file-token\n');
      const path = join(dir.path, 'config');
      writeFileSync(
        path,
        `apiVersion: v1
kind: Config
current-context: one
clusters:
- name: c1
  cluster: {server: "https://10.0.0.1:6443/", certificate-authority-data: ${b64('CA1')}}
- name: c2
  cluster: {server: "https://10.0.0.2:6443", insecure-skip-tls-verify: true}
users:
- name: u1
  user: {client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')}}
- name: u2
  user: {tokenFile: tok}
contexts:
- name: one
  context: {cluster: c1, user: u1, namespace: team}
- name: two
  context: {cluster: c2, user: u2}
`,
      );
      assert.deepEqual(await loadKubeconfigConfig({ path }), { server: 'https://10.0.0.1:6443', caPem: 'CA1', certPem: 'CERT', keyPem: 'KEY', namespace: 'team' });
      assert.deepEqual(await loadKubeconfigConfig({ path, context: 'two' }), { server: 'https://10.0.0.2:6443', insecureSkipTLSVerify: true, tokenFile: join(dir.path, 'tok') });
    } finally {
      dir.remove();
    }
  });

  it('reads the in-cluster service account and the kubernetes service address', async () => {
    const dir = tempDir();
    try {
      const sa = join(dir.path, 'sa');
      mkdirSync(sa);
      writeFileSync(join(sa, 'token'), 'tok');
      writeFileSync(join(sa, 'ca.crt'), 'CA');
      writeFileSync(join(sa, 'namespace'), 'kube-system');
      const cfg = await inClusterConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa });
      assert.deepEqual(cfg, { server: 'https://[fd00::1]:443', tokenFile: join(sa, 'token'), caPem: 'CA', namespace: 'kube-system' });
      await assert.rejects(inClusterConfig({ env: {}, serviceAccountDir: sa }), /KUBERNETES_SERVICE_HOST/);
    } finally {
      dir.remove();
    }
  });
});
