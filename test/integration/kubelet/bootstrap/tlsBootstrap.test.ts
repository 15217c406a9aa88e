// TLS bootstrap end to end: a real `k8ts server` (its controller manager runs csrapproving,
// csrsigning and csrcleaner), an agent data dir getting kubelet credentials with the node token,
// and the real kubectl looking at the CSRs and approving a manual one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentBootstrapError, bootstrapAgentCredentials } from '../../../../src/server/agentBootstrap.js';
import { formatNodeToken, parseNodeToken } from '../../../../src/server/nodeToken.js';
import { createCSR, describeCertificate, isIssuedBy } from '../../../../src/pki/ca.js';
import { decodeCertificatePEM, generateKeyPair } from '../../../../src/pki/pem.js';
import { startK8tsServer, type RunningServer } from '../../../support/k8tsServer.js';
import { tempDir } from '../../../support/tmp.js';

describe('TLS bootstrap of an agent with the node token', { timeout: 180_000 }, () => {
  let srv: RunningServer;
  let server = '';
  let token = '';
  const dirs: Array<{ path: string; remove(): void }> = [];
  const agentDir = () => {
    const d = tempDir('k8ts-t-agent-');
    dirs.push(d);
    return d.path;
  };

  before(async () => {
    srv = await startK8tsServer(['--disable-scheduler']);
    server = `https://127.0.0.1:${srv.port}`;
    token = readFileSync(join(srv.dataDir, 'server', 'node-token'), 'utf8').trim();
  });
  after(async () => {
    await srv?.stop();
    for (const d of dirs) d.remove();
  });

  it('the server wrote node-token and token in k3s format, pinned to its CA', () => {
    const ca = readFileSync(join(srv.dataDir, 'tls', 'ca.crt'), 'utf8');
    assert.match(token, /^K10[0-9a-f]{64}::server:[0-9a-f]{32}$/);
    assert.equal(token, formatNodeToken(ca, parseNodeToken(token).secret));
    assert.equal(readFileSync(join(srv.dataDir, 'server', 'token'), 'utf8').trim(), token);
  });

  it('/cacerts is public and serves the cluster CA', async () => {
    const r = await srv.kubectl(['get', '--raw', '/cacerts']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), readFileSync(join(srv.dataDir, 'tls', 'ca.crt'), 'utf8').trim());
  });

  let kubeconfig = '';
  let dataDir = '';
  it('an agent gets a kubelet client certificate for system:node:n1 and uses it', async () => {
    dataDir = agentDir();
    const creds = await bootstrapAgentCredentials({ server, token, dataDir, nodeName: 'n1', timeoutMs: 60_000 });
    kubeconfig = creds.kubeconfig;
    assert.equal(creds.reused, false);
    assert.equal(kubeconfig, join(dataDir, 'agent', 'kubelet.kubeconfig'));
    assert.ok(creds.csrName?.startsWith('node-csr-'));

    const whoami = await srv.kubectl(['--kubeconfig', kubeconfig, 'auth', 'whoami', '-o', 'json']);
    assert.equal(whoami.code, 0, whoami.stderr);
    const info = JSON.parse(whoami.stdout).status.userInfo;
    assert.equal(info.username, 'system:node:n1');
    assert.ok(info.groups.includes('system:nodes'));
    const nodes = await srv.kubectl(['--kubeconfig', kubeconfig, 'get', 'nodes']);
    assert.equal(nodes.code, 0, nodes.stderr);

    // kubectl shows the CSR as upstream does: requested by the bootstrap user, Approved,Issued.
    const csrs = await srv.kubectl(['get', 'csr', creds.csrName!]);
    assert.equal(csrs.code, 0, csrs.stderr);
    const row = csrs.stdout.split('\n')[1] ?? '';
    assert.match(row, new RegExp(`^${creds.csrName}\\s+\\S+\\s+kubernetes.io/kube-apiserver-client-kubelet\\s+system:bootstrap:k8ts-node\\s+<none>\\s+Approved,Issued`));
    const obj = JSON.parse((await srv.kubectl(['get', 'csr', creds.csrName!, '-o', 'json'])).stdout);
    assert.deepEqual(obj.spec.groups, ['system:bootstrappers', 'system:bootstrappers:k8ts:node-token', 'system:authenticated']);
    const approved = obj.status.conditions.find((c: { type: string }) => c.type === 'Approved');
    assert.equal(approved.reason, 'AutoApproved');
    assert.equal(approved.message, 'Auto approving kubelet client certificate after SubjectAccessReview.');
  });

  it('the next start reuses the kubeconfig while its certificate is valid', async () => {
    const again = await bootstrapAgentCredentials({ server, token, dataDir, nodeName: 'n1', timeoutMs: 10_000 });
    assert.equal(again.reused, true);
    assert.equal(again.csrName, undefined);
  });

  it('a wrong secret is refused by the server (401) with a message naming the fix', async () => {
    const wrong = `${token.slice(0, token.lastIndexOf(':') + 1)}00000000000000000000000000000000`;
    await assert.rejects(
      bootstrapAgentCredentials({ server, token: wrong, dataDir: agentDir(), nodeName: 'n9', timeoutMs: 10_000 }),
      (err: unknown) => err instanceof AgentBootstrapError && err.code === 'Unauthorized' && /401 Unauthorized.*node-token/.test(err.message),
    );
    const raw = await srv.kubectl(['--kubeconfig', '/dev/null', '--server', server, '--insecure-skip-tls-verify', '--token', 'nope', 'get', 'nodes']);
    assert.notEqual(raw.code, 0);
    assert.match(raw.stderr, /Unauthorized/);
  });

  it('a token pinned to another CA is refused before anything is sent', async () => {
    const other = `K10${'ab'.repeat(32)}::server:${parseNodeToken(token).secret}`;
    await assert.rejects(
      bootstrapAgentCredentials({ server, token: other, dataDir: agentDir(), nodeName: 'n8', timeoutMs: 10_000 }),
      (err: unknown) => err instanceof AgentBootstrapError && err.code === 'CAHashMismatch' && err.message.includes('/cacerts') && err.message.includes('ab'.repeat(32)),
    );
  });

  it('a plain secret needs a CA file; with one it works', async () => {
    const secret = parseNodeToken(token).secret;
    await assert.rejects(
      bootstrapAgentCredentials({ server, token: secret, dataDir: agentDir(), nodeName: 'n2', timeoutMs: 10_000 }),
      (err: unknown) => err instanceof AgentBootstrapError && err.code === 'NoCAPin',
    );
    const creds = await bootstrapAgentCredentials({ server, token: secret, caFile: join(srv.dataDir, 'tls', 'ca.crt'), dataDir: agentDir(), nodeName: 'n2', timeoutMs: 60_000 });
    assert.equal(creds.reused, false);
    const whoami = await srv.kubectl(['--kubeconfig', creds.kubeconfig, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    assert.equal(whoami.stdout, 'system:node:n2');
  });

  it('kubectl certificate approve gets a manual client CSR signed by csrsigning', async () => {
    const key = await generateKeyPair('ECDSA-P256');
    const request = await createCSR({ commonName: 'alice', organizations: ['devs'], key });
    const manifest = JSON.stringify({
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name: 'alice' },
      spec: { request: Buffer.from(request).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'], expirationSeconds: 3600 },
    });
    const created = await srv.kubectl(['create', '-f', '-'], { input: manifest });
    assert.equal(created.code, 0, created.stderr);
    const pending = await srv.kubectl(['get', 'csr', 'alice', '--no-headers']);
    assert.match(pending.stdout, /kubernetes-admin\s+60m\s+Pending/);
    const approve = await srv.kubectl(['certificate', 'approve', 'alice']);
    assert.equal(approve.code, 0, approve.stderr);
    assert.match(approve.stdout, /certificatesigningrequest.certificates.k8s.io\/alice approved/);
    let cert = '';
    for (let i = 0; i < 100 && !cert; i++) {
      const r = await srv.kubectl(['get', 'csr', 'alice', '-o', 'jsonpath={.status.certificate}']);
      cert = r.stdout.trim();
      if (!cert) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(cert, 'csrsigning issued no certificate');
    const pem = Buffer.from(cert, 'base64').toString('utf8');
    const info = describeCertificate(pem);
    assert.equal(info.commonName, 'alice');
    assert.deepEqual(info.organizations, ['devs']);
    const lifetime = (info.notAfter.getTime() - info.notBefore.getTime()) / 1000;
    assert.ok(lifetime > 3600 && lifetime <= 3600 + 300 + 5, `lifetime ${lifetime}`);
    assert.ok(await isIssuedBy(decodeCertificatePEM(pem), decodeCertificatePEM(readFileSync(join(srv.dataDir, 'tls', 'ca.crt'), 'utf8'))));
    const shown = await srv.kubectl(['get', 'csr', 'alice', '--no-headers']);
    assert.match(shown.stdout, /Approved,Issued/);
  });

  it('the API server refuses malformed requests and system:masters client CSRs as upstream', async () => {
    const bad = JSON.stringify({
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name: 'bad' },
      spec: { request: Buffer.from('not a csr').toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] },
    });
    const r = await srv.kubectl(['create', '-f', '-'], { input: bad });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /CertificateSigningRequest "bad" is invalid: spec.request: Invalid value: .*PEM block type must be CERTIFICATE REQUEST/);

    const key = await generateKeyPair('ECDSA-P256');
    const masters = await createCSR({ commonName: 'root', organizations: ['system:masters'], key });
    const m = await srv.kubectl(['create', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'certificates.k8s.io/v1',
        kind: 'CertificateSigningRequest',
        metadata: { name: 'masters' },
        spec: { request: Buffer.from(masters).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] },
      }),
    });
    assert.notEqual(m.code, 0);
    assert.match(m.stderr, /use of kubernetes.io\/kube-apiserver-client signer with system:masters group is not allowed/);
  });
});
