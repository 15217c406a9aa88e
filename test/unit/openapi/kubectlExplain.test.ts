// The real kubectl against our documents (served by a tiny HTTP server with legacy discovery
// and a naive object store).
// Skipped when kubectl is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_RESOURCES } from '../../../src/api/catalog.js';
import { startMiniServer } from './miniServer.js';

const run = promisify(execFile);
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

test('kubectl explain reads fields at any depth from our OpenAPI v3 documents', { skip: !hasKubectl && 'kubectl not installed' }, async () => {
  const server = await startMiniServer(BUILTIN_RESOURCES);
  try {
    const explain = async (what: string) => {
      const { stdout } = await run('kubectl', ['--server', server.url, 'explain', what], {
        env: { ...process.env, KUBECONFIG: '/dev/null', HOME: '/tmp' },
        timeout: 30_000,
      });
      return stdout;
    };
    const deployment = await explain('deployment');
    assert.match(deployment, /KIND:\s+Deployment/);
    assert.match(deployment, /Deployment enables declarative updates for Pods and ReplicaSets\./);
    assert.match(deployment, /spec\s+<DeploymentSpec>/);

    const containers = await explain('deployment.spec.template.spec.containers');
    assert.match(containers, /FIELD: containers <\[\]Container>/);
    assert.match(containers, /imagePullPolicy\s+<string>/);
    assert.match(containers, /name\s+<string> -required-/);

    const policy = await explain('deployment.spec.template.spec.containers.imagePullPolicy');
    assert.match(policy, /ENUM:\s+Always\s+IfNotPresent\s+Never/);
    assert.match(policy, /Image pull policy\. One of Always, Never, IfNotPresent\./);
  } finally {
    await server.close();
  }
});

test('kubectl apply computes its strategic merge patch from our OpenAPI documents', { skip: !hasKubectl && 'kubectl not installed' }, async () => {
  const server = await startMiniServer(BUILTIN_RESOURCES);
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-openapi-'));
  try {
    const manifest = (image: string, extra: object[]) =>
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }, ...extra] } },
        },
      });
    const apply = async (content: string) => {
      const file = join(dir, 'deployment.json');
      writeFileSync(file, content);
      return run('kubectl', ['--server', server.url, 'apply', '-f', file], { env: { ...process.env, KUBECONFIG: '/dev/null', HOME: dir }, timeout: 30_000 });
    };
    await apply(manifest('nginx:1', []));
    const second = await apply(manifest('nginx:2', [{ name: 'sidecar', image: 'busybox' }]));
    assert.doesNotMatch(second.stderr, /warning/i, 'no fallback from OpenAPI to built-in types');
    const patch = server.requests.find((r) => r.method === 'PATCH');
    assert.ok(patch, 'kubectl sent a PATCH');
    assert.equal(patch.contentType, 'application/strategic-merge-patch+json');
    const body = JSON.parse(patch.body) as { spec: { template: { spec: Record<string, unknown> } } };
    // Merging containers by their merge key "name" is what makes kubectl send an element order list.
    assert.deepEqual(body.spec.template.spec['$setElementOrder/containers'], [{ name: 'web' }, { name: 'sidecar' }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
});
