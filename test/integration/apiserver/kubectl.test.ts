// The API server as a kubectl user meets it: `k8ts server --disable-agent` in its own process,
// driven by the real kubectl 1.32 (and, where installed, 1.27 and 1.33).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
`;

/** kubectl.1.27 and kubectl.1.33 live beside gcloud in the Google Cloud SDK. */
function sdkKubectl(version: string): string | undefined {
  try {
    const gcloud = realpathSync(execFileSync('sh', ['-c', 'command -v gcloud'], { encoding: 'utf8' }).trim());
    const p = join(dirname(gcloud), `kubectl.${version}`);
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

describe('kubectl against k8ts server', () => {
  let s: RunningServer;
  let dir: string;
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await s.kubectl(args, { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const fails = async (args: string[]): Promise<string> => {
    const r = await s.kubectl(args);
    assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} should have failed: ${r.stdout}`);
    return r.stderr;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'k8ts-kubectl-'));
    s = await startK8tsServer(['--disable-agent']);
  });
  after(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports its version, cluster info and API resources', async () => {
    assert.match(await ok(['version']), /Server Version: v1\.32\.\d+\+k8ts/);
    assert.match(await ok(['cluster-info']), /Kubernetes control plane is running at https:\/\/127\.0\.0\.1:\d+/);
    const resources = await ok(['api-resources']);
    assert.match(resources, /deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/);
    assert.match(resources, /pods\s+po\s+v1\s+true\s+Pod/);
    assert.match(resources, /namespaces\s+ns\s+v1\s+false\s+Namespace/);
    assert.ok(resources.trim().split('\n').length > 50);
    const versions = await ok(['api-versions']);
    for (const gv of ['apps/v1', 'batch/v1', 'v1', 'rbac.authorization.k8s.io/v1', 'events.k8s.io/v1']) assert.ok(versions.split('\n').includes(gv), gv);
  });

  it('has the system namespaces, the kubernetes service and the system priority classes', async () => {
    const ns = await ok(['get', 'ns', '-o', 'name']);
    for (const n of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) assert.match(ns, new RegExp(`namespace/${n}\\b`));
    assert.match(await ok(['get', 'svc', 'kubernetes', '-o', 'jsonpath={.spec.clusterIP}']), /^10\.96\.0\.1$/);
    assert.match(await ok(['get', 'priorityclasses', '-o', 'name']), /system-node-critical/);
  });

  it('applies a deployment: created, unchanged, configured, and shows it in every output format', async () => {
    const web = file('web.yaml', DEPLOYMENT);
    assert.match(await ok(['apply', '-f', web]), /deployment\.apps\/web created/);
    assert.match(await ok(['apply', '-f', web]), /deployment\.apps\/web unchanged/);
    const web5 = file('web5.yaml', DEPLOYMENT.replace('replicas: 3', 'replicas: 5'));
    assert.match(await ok(['apply', '-f', web5]), /deployment\.apps\/web configured/);
    assert.equal(await ok(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}']), '5');
    assert.match(await ok(['get', 'deploy']), /NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nweb\s+0\/5/);
    assert.match(await ok(['get', 'deploy', '-o', 'wide']), /CONTAINERS\s+IMAGES\s+SELECTOR/);
    assert.match(await ok(['get', 'deploy', 'web', '-o', 'yaml']), /imagePullPolicy: IfNotPresent/);
    assert.equal(JSON.parse(await ok(['get', 'deploy', 'web', '-o', 'json'])).spec.strategy.rollingUpdate.maxSurge, '25%');
    assert.equal((await ok(['get', 'deploy', '-o', 'name'])).trim(), 'deployment.apps/web');
    assert.match(await ok(['get', 'deploy', '-o', 'custom-columns=N:.metadata.name,R:.spec.replicas']), /web\s+5/);
  });

  it('diffs and applies server-side', async () => {
    const web3 = file('web3.yaml', DEPLOYMENT);
    const diff = await s.kubectl(['diff', '-f', web3]);
    assert.equal(diff.code, 1, diff.stderr); // 1 = differences found
    assert.match(diff.stdout, /replicas: 3/);
    assert.match(await ok(['apply', '--server-side', '--force-conflicts', '-f', web3]), /serverside-applied/);
    assert.equal(await ok(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}']), '3');
  });

  it('patches with strategic, merge and json patches', async () => {
    await ok(['patch', 'deploy', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"A","value":"1"}]}]}}}}']);
    assert.equal(await ok(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']), 'nginx:1.25');
    assert.equal(await ok(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].env[0].value}']), '1');
    await ok(['patch', 'deploy', 'web', '--type=merge', '-p', '{"metadata":{"labels":{"tier":"front"}}}']);
    await ok(['patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":4}]']);
    assert.equal(await ok(['get', 'deploy', 'web', '-o', 'jsonpath={.metadata.labels.tier}/{.spec.replicas}']), 'front/4');
  });

  it('refuses bad input with upstream messages', async () => {
    const bad = file('bad.yaml', DEPLOYMENT.replace('replicas: 3', 'replicas: 3\n  foo: bar'));
    assert.match(await fails(['apply', '-f', bad]), /unknown field "spec\.foo"/);
    const invalid = file('invalid.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: empty}\nspec: {containers: []}\n');
    assert.match(await fails(['apply', '-f', invalid]), /spec\.containers: Required value/);
    assert.match(await fails(['get', 'pod', 'nope']), /pods "nope" not found/);
    assert.match(await fails(['create', 'namespace', 'Bad_Name']), /Invalid value: "Bad_Name"/);
  });

  it('creates, labels, annotates, selects and watches', async () => {
    assert.match(await ok(['create', 'namespace', 'team-a']), /namespace\/team-a created/);
    assert.match(await ok(['-n', 'team-a', 'create', 'configmap', 'cfg', '--from-literal=a=1']), /configmap\/cfg created/);
    assert.match(await ok(['-n', 'team-a', 'create', 'secret', 'generic', 's1', '--from-literal=p=q']), /secret\/s1 created/);
    assert.match(await ok(['-n', 'team-a', 'create', 'serviceaccount', 'robot']), /serviceaccount\/robot created/);
    assert.match(await ok(['-n', 'team-a', 'create', 'deployment', 'api', '--image=busybox']), /deployment\.apps\/api created/);
    assert.match(await ok(['-n', 'team-a', 'label', 'cm', 'cfg', 'tier=x']), /labeled/);
    assert.match(await ok(['-n', 'team-a', 'annotate', 'cm', 'cfg', 'note=hello']), /annotated/);
    assert.equal(await ok(['-n', 'team-a', 'get', 'cm', '-l', 'tier=x', '-o', 'jsonpath={.items[*].metadata.name}']), 'cfg');
    assert.equal(await ok(['-n', 'team-a', 'get', 'cm', '-l', 'tier notin (x)', '-o', 'jsonpath={.items[*].metadata.name}']), 'kube-root-ca.crt');
    const watch = s.kubectl(['-n', 'team-a', 'get', 'cm', '--watch', '-o', 'name', '--request-timeout=4s'], { timeoutMs: 8000 });
    await new Promise((r) => setTimeout(r, 1500));
    await ok(['-n', 'team-a', 'create', 'configmap', 'late', '--from-literal=b=2']);
    const w = await watch;
    assert.match(w.stdout, /configmap\/late/);
    assert.match(await ok(['-n', 'team-a', 'describe', 'cm', 'cfg']), /note:\s+hello/);
  });

  it('scales, waits and deletes with every cascade', async () => {
    assert.match(await ok(['scale', 'deploy', 'web', '--replicas=2']), /scaled/);
    assert.match(await ok(['wait', '--for=jsonpath={.spec.replicas}=2', 'deploy/web', '--timeout=10s']), /condition met/);
    assert.match(await ok(['delete', 'deploy', 'web', '--cascade=background']), /deleted/);
    await ok(['-n', 'team-a', 'create', 'configmap', 'c2', '--from-literal=x=y']);
    assert.match(await ok(['-n', 'team-a', 'delete', 'cm', 'c2', '--cascade=orphan', '--wait=false']), /deleted/);
  });

  it('deletes a namespace with everything in it', async () => {
    await ok(['create', 'namespace', 'doomed']);
    await ok(['-n', 'doomed', 'create', 'configmap', 'c', '--from-literal=a=b']);
    await ok(['-n', 'doomed', 'create', 'deployment', 'd', '--image=busybox']);
    assert.match(await ok(['delete', 'namespace', 'doomed', '--timeout=20s']), /namespace "doomed" deleted/);
    assert.match(await fails(['get', 'namespace', 'doomed']), /namespaces "doomed" not found/);
    assert.equal((await ok(['get', 'cm,deploy', '-n', 'doomed', '-o', 'name'])).trim(), '');
  });

  it('answers auth, tokens, events, metrics and proxy-less subresources', async () => {
    assert.match(await ok(['auth', 'whoami']), /kubernetes-admin|system:masters/);
    assert.match(await ok(['create', 'token', 'default']), /^eyJ/);
    await ok(['get', 'events', '-A', '--field-selector', 'reason=Scheduled']);
    await ok(['get', 'events', '--sort-by=.metadata.creationTimestamp']);
    assert.match(await ok(['get', '--raw', '/metrics']), /apiserver_request_total/);
    assert.match(await ok(['get', '--raw', '/readyz?verbose']), /readyz check passed/);
  });

  it('serves a CustomResourceDefinition: its resources, columns, validation and cleanup', async () => {
    const crd = file(
      'crd.yaml',
      `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cronSpec: {type: string}
              replicas: {type: integer, minimum: 1}
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
`,
    );
    assert.match(await ok(['apply', '-f', crd]), /customresourcedefinition.apiextensions.k8s.io\/crontabs.stable.example.com created/);
    assert.match(await ok(['wait', '--for=condition=Established', 'crd/crontabs.stable.example.com', '--timeout=10s']), /condition met/);
    const ct = file('ct.yaml', 'apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: nightly}\nspec: {cronSpec: "0 3 * * *", replicas: 2}\n');
    assert.match(await ok(['apply', '-f', ct]), /crontab.stable.example.com\/nightly created/);
    assert.match(await ok(['get', 'ct']), /NAME\s+SPEC\s+REPLICAS\nnightly\s+0 3 \* \* \*\s+2/);
    assert.match(await ok(['explain', 'crontab.spec']), /cronSpec/);
    await ok(['patch', 'ct', 'nightly', '--type=merge', '-p', '{"spec":{"replicas":3}}']);
    assert.equal(await ok(['get', 'ct', 'nightly', '-o', 'jsonpath={.spec.replicas}']), '3');
    const bad = file('bad-ct.yaml', 'apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: bad}\nspec: {replicas: 0}\n');
    assert.match(await fails(['apply', '-f', bad]), /spec.replicas in body should be greater than or equal to 1/);
    assert.match(await ok(['delete', 'crd', 'crontabs.stable.example.com']), /deleted/);
    assert.match((await s.kubectl(['get', 'ct'])).stderr, /the server doesn't have a resource type "ct"|NotFound|not find/);
  });

  for (const version of ['1.27', '1.33']) {
    it(`works with kubectl ${version}`, async (t) => {
      const bin = sdkKubectl(version);
      if (!bin) return t.skip(`kubectl.${version} is not installed beside gcloud`);
      const r = await s.kubectl(['get', 'ns'], { binary: bin });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /kube-system/);
      assert.doesNotMatch(r.stderr, /Warning|error/i);
      const e = await s.kubectl(['explain', 'pod.spec.containers'], { binary: bin });
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stdout, /imagePullPolicy/);
    });
  }
});
