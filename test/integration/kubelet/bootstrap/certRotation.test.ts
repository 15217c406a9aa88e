// Kubelet client certificate rotation for real: a `k8ts server` whose csrsigning issues 60-second
// certificates (--cluster-signing-duration 60s) and a real `k8ts agent`, both in a network namespace
// of their own. The agent renews its certificate before it expires (a `csr-` CSR made with its node
// identity, approved as selfnodeclient), swaps kubelet-client-current.pem and keeps renewing its
// Lease after the first certificate has expired — which the API server would refuse.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeCertificate } from '../../../../src/pki/ca.js';
import { startK8tsServer, type RunningServer } from '../../../support/k8tsServer.js';
import { tempDir } from '../../../support/tmp.js';
import { waitFor } from '../../../support/waitFor.js';

const BIN = fileURLToPath(new URL('../../../../../bin/k8ts', import.meta.url));
const NODE = 'rot-1';
const isRoot = process.getuid?.() === 0;

describe('kubelet client certificate rotation with 60 s certificates', { skip: isRoot ? false : 'needs root (network namespace)', timeout: 300_000 }, () => {
  const netns = `k8ts-pids-rot${process.pid % 10000}`;
  const agentDir = tempDir('k8ts-rot-agent-');
  const pem = join(agentDir.path, 'agent', 'pki', 'kubelet-client-current.pem');
  let server: RunningServer;
  let agent: ChildProcess | undefined;
  let agentLog = '';
  const k = async (...args: string[]) => {
    const r = await server.kubectl(args, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const currentCert = () => describeCertificate(readFileSync(pem, 'utf8'));

  before(async () => {
    execFileSync('ip', ['netns', 'add', netns]);
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    server = await startK8tsServer(['--cluster-signing-duration', '60s', '--disable-scheduler'], { netns, readyTimeoutMs: 90_000 });
    const token = readFileSync(join(server.dataDir, 'server', 'node-token'), 'utf8').trim();
    agent = spawn(
      'nsenter',
      [`--net=/var/run/netns/${netns}`, process.execPath, BIN, 'agent', '--server', `https://127.0.0.1:${server.port}`, '--token', token, '--data-dir', agentDir.path, '--node-name', NODE, '--node-ip', '127.0.0.1', '--runtime', 'process', '--kubelet-port', '0', '--cni-bridge', 'k8tsrot0'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, K8TS_LOG_LEVEL: 'info' } },
    );
    agent.stdout!.on('data', (d: Buffer) => (agentLog = (agentLog + d.toString()).slice(-40_000)));
    agent.stderr!.on('data', (d: Buffer) => (agentLog = (agentLog + d.toString()).slice(-40_000)));
    await waitFor(`node ${NODE} Ready`, async () => / Ready /.test(await k('get', 'node', NODE, '--no-headers').catch(() => '')), 90_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${agentLog.slice(-4000)}`);
    });
  });

  after(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await new Promise((r) => agent!.once('exit', r));
    }
    try {
      execFileSync('nsenter', [`--net=/var/run/netns/${netns}`, process.execPath, BIN, 'killall', '--data-dir', agentDir.path, '--cni-bridge', 'k8tsrot0'], { stdio: 'pipe' });
    } catch {
      // nothing left
    }
    await server?.stop();
    try {
      execFileSync('ip', ['netns', 'delete', netns]);
    } catch {
      // already gone
    }
    agentDir.remove();
  });

  let first: ReturnType<typeof describeCertificate>;

  it('the bootstrap certificate is in kubelet-client-current.pem (a symlink), lives 60 s, and the kubeconfig points at it', () => {
    first = currentCert();
    assert.equal(first.commonName, `system:node:${NODE}`);
    const life = first.notAfter.getTime() - Date.now();
    assert.ok(life > 0 && life <= 60_000, `certificate expires in ${life} ms`);
    assert.match(readlinkSync(pem), /^kubelet-client-\d{4}(-\d{2}){5}(-\d+)?\.pem$/);
    assert.equal(statSync(join(agentDir.path, 'agent', 'pki', readlinkSync(pem))).mode & 0o777, 0o600);
    const kubeconfig = readFileSync(join(agentDir.path, 'agent', 'kubelet.kubeconfig'), 'utf8');
    assert.match(kubeconfig, new RegExp(`client-certificate: ${pem.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.match(kubeconfig, /client-key: .*kubelet-client-current\.pem/);
  });

  it('a new certificate replaces it before it expires, through a selfnodeclient CSR', async () => {
    const rotated = await waitFor('a rotated certificate', async () => {
      const c = currentCert();
      return c.serialNumber !== first.serialNumber ? c : undefined;
    }, 90_000, 500).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${agentLog.slice(-4000)}`);
    });
    // Issued (notBefore + the 30 s backdate of a 60 s certificate) before the first one expired.
    assert.ok(rotated.notBefore.getTime() + 30_000 < first.notAfter.getTime(), `issued at ${rotated.notBefore.toISOString()}+30s, first expired ${first.notAfter.toISOString()}`);
    assert.equal(rotated.commonName, `system:node:${NODE}`);
    assert.deepEqual(rotated.organizations, ['system:nodes']);
    const csrs = JSON.parse(await k('get', 'csr', '-o', 'json')).items as Array<{ metadata: { name: string }; spec: { username: string; signerName: string }; status: { conditions?: Array<{ type: string; reason: string; message: string }> } }>;
    const renewals = csrs.filter((c) => c.metadata.name.startsWith('csr-') && c.spec.username === `system:node:${NODE}`);
    assert.ok(renewals.length >= 1, `no renewal CSR among ${csrs.map((c) => c.metadata.name).join(', ')}`);
    assert.equal(renewals[0]!.spec.signerName, 'kubernetes.io/kube-apiserver-client-kubelet');
    const approved = renewals[0]!.status.conditions?.find((c) => c.type === 'Approved');
    assert.equal(approved?.message, 'Auto approving self kubelet client certificate after SubjectAccessReview.');
    assert.match(agentLog, /certificate rotation detected, shutting down client connections to start using new credentials/);
  });

  it('after the first certificate has expired the kubelet still renews its Lease and the node stays Ready', async () => {
    const wait = first.notAfter.getTime() + 2000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const renewTime = async () => Date.parse(JSON.parse(await k('get', 'lease', '-n', 'kube-node-lease', NODE, '-o', 'json')).spec.renewTime);
    const before = await renewTime();
    const later = await waitFor('a Lease renewal after the first certificate expired', async () => {
      const t = await renewTime();
      return t > before && t > first.notAfter.getTime() ? t : undefined;
    }, 45_000, 1000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${agentLog.slice(-4000)}`);
    });
    assert.ok(later > first.notAfter.getTime());
    assert.match(await k('get', 'node', NODE, '--no-headers'), / Ready /);
    // The kubeconfig names the current file, so it keeps working too.
    const whoami = await server.kubectl(['--kubeconfig', join(agentDir.path, 'agent', 'kubelet.kubeconfig'), 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.equal(whoami.stdout, `system:node:${NODE}`);
  });

  it('the kubelet reports upstream’s certificate manager metrics', async () => {
    const text = await k('get', '--raw', `/api/v1/nodes/${NODE}/proxy/metrics`);
    const ttl = Number(/^kubelet_certificate_manager_client_ttl_seconds (-?\d+)$/m.exec(text)?.[1]);
    assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}\n${text}`);
    assert.match(text, /^kubelet_certificate_manager_client_expiration_renew_errors 0$/m);
  });
});
