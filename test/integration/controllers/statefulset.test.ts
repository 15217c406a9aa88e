// The StatefulSet controller against a real `k8ts server` (with its scheduler) and a fake kubelet,
// driven with the real kubectl: ordered creation with stable names and claims, reverse-order scale
// down, rolling update with rollout status/history/undo, and Parallel pod management.
import assert from 'node:assert/strict';
import type { PersistentVolume, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import { after, before, describe, it } from 'node:test';
import { isAlreadyExists } from '../../../src/client/apiError.js';
import { newStatefulSetController } from '../../../src/controllers/statefulset/statefulSetController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { startFakeKubelet } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

const stsYaml = (name: string, opts: { replicas: number; image?: string; parallel?: boolean; claims?: boolean }) => `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${name}}
spec:
  serviceName: ${name}
  replicas: ${opts.replicas}
${opts.parallel ? '  podManagementPolicy: Parallel\n' : ''}  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
      - name: c
        image: ${opts.image ?? 'busybox:1.36'}
${opts.claims ? '        volumeMounts: [{name: data, mountPath: /data}]\n' : ''}${
  opts.claims
    ? `  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`
    : ''
}`;

/** Plays the PV controller for the test: binds every new claim to a fresh hostPath volume. */
function startBinder(h: Harness): { stop(): void } {
  const pvcs = h.client.resource<PersistentVolumeClaim>('', 'v1', 'persistentvolumeclaims');
  const pvs = h.client.resource<PersistentVolume>('', 'v1', 'persistentvolumes');
  let stopped = false;
  void (async () => {
    while (!stopped) {
      try {
        for (const c of (await pvcs.list({})).items) {
          if (c.spec?.volumeName) continue;
          const pvName = `pv-${c.metadata!.namespace}-${c.metadata!.name}`;
          await pvs
            .create({
              apiVersion: 'v1',
              kind: 'PersistentVolume',
              metadata: { name: pvName },
              spec: {
                capacity: { storage: '1Gi' },
                accessModes: ['ReadWriteOnce'],
                hostPath: { path: `/tmp/${pvName}` },
                claimRef: { namespace: c.metadata!.namespace!, name: c.metadata!.name!, uid: c.metadata!.uid! },
              },
            })
            .catch((err: unknown) => {
              if (!isAlreadyExists(err)) throw err;
            });
          await pvcs.patch(c.metadata!.namespace, c.metadata!.name!, { metadata: { annotations: { 'pv.kubernetes.io/bind-completed': 'yes' } }, spec: { volumeName: pvName } }, { type: 'merge' });
          await pvcs.patch(c.metadata!.namespace, c.metadata!.name!, { status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } } }, { type: 'merge', subresource: 'status' });
        }
      } catch {
        // retried on the next pass
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { stop: () => (stopped = true) };
}

describe('statefulset-controller in k8ts server', () => {
  let s: RunningServer;
  let h: Harness;
  let kubelet: { stop(): Promise<void> };
  let binder: { stop(): void };
  const ac = new AbortController();
  /** Pod lifecycle as the watch saw it, in order: `ADDED web-0`, `READY web-0`, `DELETING web-2`. */
  const seen: string[] = [];
  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? { timeoutMs: 60_000 } : { input, timeoutMs: 60_000 });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const pods = async (app: string): Promise<Pod[]> => JSON.parse(await ok(['get', 'pods', '-l', `app=${app}`, '-o', 'json'])).items as Pod[];
  const only = (prefix: string, kind: string) => seen.filter((e) => e.startsWith(`${kind} ${prefix}-`)).map((e) => e.slice(kind.length + 1));

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig);
    kubelet = await startFakeKubelet(h.client, { nodes: ['n1', 'n2'], startDelayMs: 150, outcome: (p) => (p.metadata?.labels?.app === 'par' ? 'Pending' : 'Running') });
    binder = startBinder(h);
    const podsApi = h.client.resource<Pod>('', 'v1', 'pods');
    const list = await podsApi.list({});
    void (async () => {
      const ready = new Set<string>();
      const deleting = new Set<string>();
      const w = await podsApi.watch({ resourceVersion: list.metadata?.resourceVersion ?? '0', signal: ac.signal });
      try {
        for await (const ev of w) {
          const p = ev.object;
          const n = p.metadata?.name ?? '';
          const key = `${n}/${p.metadata?.uid}`;
          if (ev.type === 'ADDED') seen.push(`ADDED ${n}`);
          if (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !ready.has(key)) {
            ready.add(key);
            seen.push(`READY ${n}`);
          }
          if ((p.metadata?.deletionTimestamp || ev.type === 'DELETED') && !deleting.has(key)) {
            deleting.add(key);
            seen.push(`DELETING ${n}`);
          }
        }
      } catch {
        // aborted
      }
    })();
    h.run(newStatefulSetController(h.ctx));
  });
  after(async () => {
    ac.abort();
    binder?.stop();
    await kubelet?.stop();
    await h?.stop();
    await s?.stop();
  });

  it('creates web-0, web-1, web-2 in order, each after its predecessor is Ready, with stable identity and claims', async () => {
    await ok(['apply', '-f', '-'], stsYaml('web', { replicas: 3, claims: true }));
    const st = await ok(['rollout', 'status', 'sts/web', '--timeout=40s']);
    assert.match(st, /partitioned roll out complete: 3 new pods have been updated/);
    assert.deepEqual(only('web', 'ADDED'), ['web-0', 'web-1', 'web-2']);
    const order = seen.filter((e) => /^(ADDED|READY) web-/.test(e));
    assert.deepEqual(order, ['ADDED web-0', 'READY web-0', 'ADDED web-1', 'READY web-1', 'ADDED web-2', 'READY web-2'], 'OrderedReady waits for each pod');
    const sts = JSON.parse(await ok(['get', 'sts', 'web', '-o', 'json']));
    assert.equal(sts.status.replicas, 3);
    assert.equal(sts.status.readyReplicas, 3);
    assert.equal(sts.status.currentReplicas, 3);
    assert.equal(sts.status.updatedReplicas, 3);
    assert.equal(sts.status.availableReplicas, 3);
    assert.equal(sts.status.observedGeneration, sts.metadata.generation);
    assert.match(sts.status.currentRevision, /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.equal(sts.status.updateRevision, sts.status.currentRevision);
    for (const p of await pods('web')) {
      const n = p.metadata!.name!;
      const ord = n.split('-')[1]!;
      assert.equal(p.spec?.hostname, n);
      assert.equal(p.spec?.subdomain, 'web');
      assert.equal(p.metadata?.labels?.['statefulset.kubernetes.io/pod-name'], n);
      assert.equal(p.metadata?.labels?.['apps.kubernetes.io/pod-index'], ord);
      assert.equal(p.metadata?.labels?.['controller-revision-hash'], sts.status.updateRevision);
      assert.deepEqual(p.spec?.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim, { claimName: `data-web-${ord}` });
    }
    const claims = JSON.parse(await ok(['get', 'pvc', '-l', 'app=web', '-o', 'json'])).items as PersistentVolumeClaim[];
    assert.deepEqual(claims.map((c) => c.metadata?.name).sort(), ['data-web-0', 'data-web-1', 'data-web-2']);
    const rev = JSON.parse(await ok(['get', 'controllerrevision', sts.status.updateRevision, '-o', 'json']));
    assert.equal(rev.revision, 1);
    assert.ok(rev.metadata.labels['controller.kubernetes.io/hash'], 'revision hash label');
    const events = await ok(['get', 'events', '--field-selector', 'involvedObject.name=web', '-o', 'jsonpath={range .items[*]}{.reason}|{.message}{"\\n"}{end}']);
    assert.match(events, /SuccessfulCreate\|create Pod web-0 in StatefulSet web successful/);
    assert.match(events, /SuccessfulCreate\|create Claim data-web-0 Pod web-0 in StatefulSet web success/);
  });

  it('scales down from the highest ordinal, keeping the claims (Retain)', async () => {
    await ok(['scale', 'sts/web', '--replicas=1']);
    await waitFor('web scaled to 1', async () => (await pods('web')).length === 1);
    assert.deepEqual(only('web', 'DELETING'), ['web-2', 'web-1']);
    assert.equal((await pods('web'))[0]!.metadata?.name, 'web-0');
    await waitFor('status replicas 1', async () => JSON.parse(await ok(['get', 'sts', 'web', '-o', 'json'])).status.replicas === 1);
    const claims = JSON.parse(await ok(['get', 'pvc', '-l', 'app=web', '-o', 'json'])).items as PersistentVolumeClaim[];
    assert.equal(claims.length, 3, 'claims are retained on scale down');
    const events = await ok(['get', 'events', '--field-selector', 'involvedObject.name=web', '-o', 'jsonpath={range .items[*]}{.reason}|{.message}{"\\n"}{end}']);
    assert.match(events, /SuccessfulDelete\|delete Pod web-2 in StatefulSet web successful/);
    await ok(['scale', 'sts/web', '--replicas=3']);
    await ok(['rollout', 'status', 'sts/web', '--timeout=40s']);
  });

  it('rolls a new template out from the highest ordinal; rollout history and undo replay revisions', async () => {
    seen.length = 0;
    await ok(['set', 'image', 'sts/web', 'c=busybox:1.37']);
    await waitFor('the update to be observed', async () => {
      const sts = JSON.parse(await ok(['get', 'sts', 'web', '-o', 'json']));
      return sts.status.observedGeneration === sts.metadata.generation && sts.status.updateRevision !== sts.status.currentRevision;
    });
    const st = await ok(['rollout', 'status', 'sts/web', '--timeout=40s']);
    assert.match(st, /partitioned roll out complete: 3 new pods have been updated/);
    assert.deepEqual(only('web', 'DELETING'), ['web-2', 'web-1', 'web-0']);
    for (const p of await pods('web')) assert.equal(p.spec?.containers[0]?.image, 'busybox:1.37');
    const sts = JSON.parse(await ok(['get', 'sts', 'web', '-o', 'json']));
    await waitFor('currentRevision to catch up', async () => {
      const cur = JSON.parse(await ok(['get', 'sts', 'web', '-o', 'json']));
      return cur.status.currentRevision === cur.status.updateRevision;
    });
    assert.notEqual(sts.status.updateRevision, undefined);
    assert.match(await ok(['rollout', 'history', 'sts/web']), /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
    assert.match(await ok(['rollout', 'history', 'sts/web', '--revision=1']), /busybox:1\.36/);
    assert.match(await ok(['rollout', 'undo', 'sts/web']), /rolled back/);
    await waitFor('the undo to be observed', async () => {
      const cur = JSON.parse(await ok(['get', 'sts', 'web', '-o', 'json']));
      return cur.status.observedGeneration === cur.metadata.generation;
    });
    await ok(['rollout', 'status', 'sts/web', '--timeout=40s']);
    for (const p of await pods('web')) assert.equal(p.spec?.containers[0]?.image, 'busybox:1.36');
    assert.match(await ok(['rollout', 'history', 'sts/web']), /\n2\s+<none>\n3\s+<none>/);
    assert.match(await ok(['rollout', 'undo', 'sts/web', '--to-revision=3']), /skipped rollback \(current template already matches revision 3\)/);
  });

  it('creates every pod at once with Parallel pod management, without waiting for readiness', async () => {
    await ok(['apply', '-f', '-'], stsYaml('par', { replicas: 3, parallel: true }));
    await waitFor('three par pods', async () => (await pods('par')).length === 3);
    const sts = JSON.parse(await ok(['get', 'sts', 'par', '-o', 'json']));
    assert.equal(sts.status.readyReplicas ?? 0, 0);
    const r = await s.kubectl(['rollout', 'status', 'sts/par', '--timeout=1s']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /Waiting for 3 pods to be ready/);
  });
});
