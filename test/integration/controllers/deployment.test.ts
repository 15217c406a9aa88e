// The Deployment controller with the real ReplicaSet controller, a fake kubelet and the real
// kubectl 1.32 against a real k8ts server: create, rolling update without unavailability,
// history/undo/status, pause/resume, a resize mid-rollout, a rollout that misses its deadline,
// a Recreate rollout, and the ScalingReplicaSet events users read.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { newDeploymentController } from '../../../src/controllers/deployment/deploymentController.js';
import { computeHash } from '../../../src/controllers/deployment/podTemplateHash.js';
import { newReplicaSetController } from '../../../src/controllers/replicaset/replicaSetController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { startFakeKubelet } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

describe('deployment controller', () => {
  let s: RunningServer;
  let h: Harness;
  let kubelet: { stop(): Promise<void> };
  const deployments = () => h.client.resource<Deployment>('apps', 'v1', 'deployments');
  const replicaSets = () => h.client.resource<ReplicaSet>('apps', 'v1', 'replicasets');
  const pods = () => h.client.resource<Pod>('', 'v1', 'pods');
  const getD = (name: string) => deployments().get('default', name);
  const rsOf = async (name: string) =>
    (await replicaSets().list({ namespace: 'default' })).items.filter((rs) => rs.metadata?.ownerReferences?.some((r) => r.kind === 'Deployment' && r.name === name));
  const kubectl = async (...args: string[]) => {
    const r = await s.kubectl(args, { timeoutMs: 45_000 });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const availableCond = (d: Deployment, type: string) => d.status?.conditions?.find((c) => c.type === type);
  const rolledOut = async (name: string, replicas: number) => {
    const d = await getD(name);
    return (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) && d.status?.updatedReplicas === replicas && d.status?.availableReplicas === replicas && d.status?.replicas === replicas ? d : undefined;
  };

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig);
    kubelet = await startFakeKubelet(h.client, { nodes: ['n1'], outcome: (p) => (p.spec?.containers?.[0]?.image?.startsWith('never-ready') ? 'NotReady' : 'Running') });
    h.run(newReplicaSetController(h.ctx), newDeploymentController(h.ctx));
  });
  after(async () => {
    await kubelet?.stop();
    await h?.stop();
    await s?.stop();
  });

  it('creates a ReplicaSet named after the template hash and brings up its pods', async () => {
    await kubectl('create', 'deployment', 'web', '--image=nginx:1.25', '--replicas=3');
    const d = await waitFor('web available', () => rolledOut('web', 3));
    const hash = computeHash(d.spec!.template, d.status?.collisionCount);
    const [rs, ...more] = await rsOf('web');
    assert.equal(more.length, 0);
    assert.equal(rs!.metadata?.name, `web-${hash}`);
    assert.equal(rs!.spec?.selector.matchLabels?.['pod-template-hash'], hash);
    assert.equal(rs!.spec?.template?.metadata?.labels?.['pod-template-hash'], hash);
    assert.equal(rs!.metadata?.annotations?.['deployment.kubernetes.io/revision'], '1');
    assert.equal(rs!.metadata?.annotations?.['deployment.kubernetes.io/desired-replicas'], '3');
    assert.equal(rs!.metadata?.annotations?.['deployment.kubernetes.io/max-replicas'], '4');
    assert.equal(d.metadata?.annotations?.['deployment.kubernetes.io/revision'], '1');
    const running = (await pods().list({ namespace: 'default', labelSelector: `pod-template-hash=${hash}` })).items;
    assert.equal(running.length, 3);
    assert.deepEqual([availableCond(d, 'Available')?.status, availableCond(d, 'Available')?.reason], ['True', 'MinimumReplicasAvailable']);
    assert.deepEqual([availableCond(d, 'Progressing')?.status, availableCond(d, 'Progressing')?.reason], ['True', 'NewReplicaSetAvailable']);
    assert.equal(availableCond(d, 'Progressing')?.message, `ReplicaSet "web-${hash}" has successfully progressed.`);
    assert.equal(d.status?.unavailableReplicas ?? 0, 0);
  });

  it('rolls out a new image with maxUnavailable 0 without ever dropping below 3 available', async () => {
    await kubectl('patch', 'deployment', 'web', '-p', '{"spec":{"strategy":{"rollingUpdate":{"maxUnavailable":0,"maxSurge":1}}}}');
    await waitFor('patch observed', async () => {
      const d = await getD('web');
      return (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
    });
    const ac = new AbortController();
    const seen: number[] = [];
    const watching = (async () => {
      const w = await deployments().watch({ namespace: 'default', name: 'web', signal: ac.signal });
      for await (const ev of w) seen.push(ev.object.status?.availableReplicas ?? 0);
    })().catch(() => undefined);
    // As `--record` did: the cause goes on after the change, so only the new ReplicaSet gets it.
    await kubectl('set', 'image', 'deployment/web', 'nginx=nginx:1.26');
    await kubectl('annotate', 'deployment', 'web', 'kubernetes.io/change-cause=image 1.26');
    const out = await kubectl('rollout', 'status', 'deployment/web', '--timeout=40s');
    assert.match(out, /deployment "web" successfully rolled out/);
    ac.abort();
    await watching;
    assert.ok(seen.length > 0, 'saw status updates');
    assert.ok(Math.min(...seen) >= 3, `available went below 3: ${seen.join(',')}`);
    const rss = await rsOf('web');
    assert.equal(rss.length, 2);
    const newRS = rss.find((rs) => rs.spec?.template?.spec?.containers[0]?.image === 'nginx:1.26')!;
    const oldRS = rss.find((rs) => rs.spec?.template?.spec?.containers[0]?.image === 'nginx:1.25')!;
    assert.deepEqual([newRS.spec?.replicas, oldRS.spec?.replicas], [3, 0]);
    assert.equal(newRS.metadata?.annotations?.['deployment.kubernetes.io/revision'], '2');
    assert.equal(newRS.metadata?.annotations?.['kubernetes.io/change-cause'], 'image 1.26');
    const history = await kubectl('rollout', 'history', 'deployment/web');
    assert.match(history, /^1\s+<none>$/m);
    assert.match(history, /^2\s+image 1\.26$/m);
  });

  it('undoes to the previous template, reusing its ReplicaSet as revision 3', async () => {
    const before = await rsOf('web');
    const first = before.find((rs) => rs.spec?.template?.spec?.containers[0]?.image === 'nginx:1.25')!;
    await kubectl('rollout', 'undo', 'deployment/web');
    assert.match(await kubectl('rollout', 'status', 'deployment/web', '--timeout=40s'), /successfully rolled out/);
    const d = await getD('web');
    assert.equal(d.spec?.template?.spec?.containers[0]?.image, 'nginx:1.25');
    const rs = await replicaSets().get('default', first.metadata!.name!);
    assert.equal(rs.spec?.replicas, 3);
    assert.equal(rs.metadata?.annotations?.['deployment.kubernetes.io/revision'], '3');
    assert.equal(rs.metadata?.annotations?.['deployment.kubernetes.io/revision-history'], '1');
    assert.equal(d.metadata?.annotations?.['deployment.kubernetes.io/revision'], '3');
    assert.equal((await rsOf('web')).length, 2);
    assert.match(await kubectl('rollout', 'history', 'deployment/web'), /^3\s/m);
  });

  it('holds a paused deployment and rolls out once resumed', async () => {
    await kubectl('rollout', 'pause', 'deployment/web');
    await waitFor('DeploymentPaused', async () => availableCond(await getD('web'), 'Progressing')?.reason === 'DeploymentPaused');
    await kubectl('set', 'image', 'deployment/web', 'nginx=nginx:1.27');
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((await rsOf('web')).length, 2, 'no new ReplicaSet while paused');
    await kubectl('rollout', 'resume', 'deployment/web');
    assert.match(await kubectl('rollout', 'status', 'deployment/web', '--timeout=40s'), /successfully rolled out/);
    assert.equal((await rsOf('web')).length, 3);
  });

  it('restarts with kubectl rollout restart (a new ReplicaSet for the restartedAt template)', async () => {
    await kubectl('rollout', 'restart', 'deployment/web');
    assert.match(await kubectl('rollout', 'status', 'deployment/web', '--timeout=40s'), /successfully rolled out/);
    const d = await getD('web');
    assert.ok(d.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']);
    assert.equal(d.metadata?.annotations?.['deployment.kubernetes.io/revision'], '5');
  });

  it('scales proportionally mid-rollout and reports ProgressDeadlineExceeded for a never-ready image', async () => {
    // A deployment of its own: the event aggregator combines a deployment's 11th similar event.
    await kubectl('create', 'deployment', 'api', '--image=nginx:1.25', '--replicas=3');
    await kubectl('patch', 'deployment', 'api', '-p', '{"spec":{"progressDeadlineSeconds":4,"strategy":{"rollingUpdate":{"maxUnavailable":0,"maxSurge":1}}}}');
    await waitFor('api available', () => rolledOut('api', 3));
    await kubectl('set', 'image', 'deployment/api', 'nginx=never-ready:1');
    // maxSurge 1, maxUnavailable 0: one new never-ready pod next to the 3 old ones.
    const stuck = await waitFor('rollout stuck at 3 old + 1 new', async () => {
      const rss = await rsOf('api');
      const n = rss.find((rs) => rs.spec?.template?.spec?.containers[0]?.image === 'never-ready:1');
      const o = rss.find((rs) => rs !== n);
      return n?.spec?.replicas === 1 && o?.spec?.replicas === 3 ? { n, o } : undefined;
    });
    await kubectl('scale', 'deployment/api', '--replicas=6');
    // 6 + surge 1 = 7 spread over 3:1 sized for 4: the old gets 5, the new 2.
    await waitFor('proportional sizes 5 and 2', async () => {
      const [o, n] = await Promise.all([replicaSets().get('default', stuck.o.metadata!.name!), replicaSets().get('default', stuck.n.metadata!.name!)]);
      return o.spec?.replicas === 5 && n.spec?.replicas === 2 && o.metadata?.annotations?.['deployment.kubernetes.io/desired-replicas'] === '6' && n.metadata?.annotations?.['deployment.kubernetes.io/max-replicas'] === '7';
    });
    const d = await waitFor(
      'ProgressDeadlineExceeded',
      async () => {
        const d = await getD('api');
        return availableCond(d, 'Progressing')?.reason === 'ProgressDeadlineExceeded' ? d : undefined;
      },
      20_000,
    );
    assert.equal(availableCond(d, 'Progressing')?.status, 'False');
    assert.equal(availableCond(d, 'Progressing')?.message, `ReplicaSet "${stuck.n.metadata?.name}" has timed out progressing.`);
    assert.deepEqual([d.status?.replicas, d.status?.updatedReplicas, d.status?.availableReplicas, d.status?.unavailableReplicas], [7, 2, 5, 2]);
    const r = await s.kubectl(['rollout', 'status', 'deployment/api', '--timeout=10s']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /exceeded its progress deadline/);
    const events = await kubectl('get', 'events', '--field-selector', 'involvedObject.name=api', '--sort-by=.metadata.creationTimestamp');
    const scaling = events.split('\n').filter((l) => /ScalingReplicaSet\s+deployment\/api\s/.test(l)).map((l) => l.replace(/^.*deployment\/api\s+/, ''));
    assert.deepEqual(scaling.slice(0, 2), [`Scaled up replica set ${stuck.o.metadata!.name} from 0 to 3`, `Scaled up replica set ${stuck.n.metadata!.name} from 0 to 1`]);
    // The two proportional writes land in the same second: their order is the server's.
    assert.deepEqual(scaling.slice(2).sort(), [`Scaled up replica set ${stuck.o.metadata!.name} from 3 to 5`, `Scaled up replica set ${stuck.n.metadata!.name} from 1 to 2`].sort());
  });

  it('recreates: old pods go before new ones come', async () => {
    await kubectl('create', 'deployment', 'rec', '--image=nginx:1.25', '--replicas=2');
    await kubectl('patch', 'deployment', 'rec', '--type=merge', '-p', '{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}');
    await waitFor('rec available', () => rolledOut('rec', 2));
    await kubectl('set', 'image', 'deployment/rec', 'nginx=nginx:1.26');
    assert.match(await kubectl('rollout', 'status', 'deployment/rec', '--timeout=40s'), /successfully rolled out/);
    const rss = await rsOf('rec');
    assert.deepEqual(rss.map((rs) => rs.spec?.replicas).sort(), [0, 2]);
    const events = await kubectl('get', 'events', '--field-selector', 'involvedObject.name=rec', '--sort-by=.metadata.creationTimestamp', '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}');
    const lines = events.trim().split('\n');
    const down = lines.findIndex((l) => /^Scaled down replica set rec-\w+ from 2 to 0$/.test(l));
    const up = lines.findIndex((l, i) => i > 0 && /^Scaled up replica set rec-\w+ from 0 to 2$/.test(l) && i > down);
    assert.ok(down >= 0 && up > down, events);
  });
});
