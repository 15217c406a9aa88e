// The ReplicaSet controller running inside `k8ts server`, driven with the real kubectl.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

const RS = `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: front}
spec:
  replicas: 3
  selector: {matchLabels: {app: front}}
  template:
    metadata: {labels: {app: front}}
    spec:
      containers: [{name: c, image: nginx:1.25}]
`;

describe('ReplicaSet controller in k8ts server', () => {
  let s: RunningServer;
  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const podNames = async (sel = 'app=front') => (await ok(['get', 'pods', '-l', sel, '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').filter(Boolean);

  before(async () => {
    s = await startK8tsServer(['--disable-agent']);
  });
  after(async () => s?.stop());

  it('creates the replicas, records SuccessfulCreate, and reports status', async () => {
    await ok(['apply', '-f', '-'], RS);
    await waitFor('3 pods', async () => (await podNames()).length === 3);
    for (const n of await podNames()) assert.match(n, /^front-[a-z0-9]{5}$/);
    const owner = await ok(['get', 'pods', '-l', 'app=front', '-o', 'jsonpath={.items[0].metadata.ownerReferences[0].kind}/{.items[0].metadata.ownerReferences[0].name}/{.items[0].metadata.ownerReferences[0].controller}']);
    assert.equal(owner, 'ReplicaSet/front/true');
    await waitFor('status.replicas 3', async () => (await ok(['get', 'rs', 'front', '-o', 'jsonpath={.status.replicas}/{.status.observedGeneration}'])) === '3/1');
    assert.match(await ok(['get', 'events', '--field-selector', 'reason=SuccessfulCreate']), /Created pod: front-[a-z0-9]{5}/);
  });

  it('replaces a deleted pod', async () => {
    const [victim] = await podNames();
    await ok(['delete', 'pod', victim!, '--wait=false']);
    await waitFor('a replacement', async () => {
      const names = await podNames();
      return names.length === 3 && !names.includes(victim!);
    });
  });

  it('scales down by deleting pods, and adopts and releases pods by label', async () => {
    await ok(['scale', 'rs', 'front', '--replicas=1']);
    await waitFor('1 pod', async () => (await podNames()).length === 1);
    assert.match(await ok(['get', 'events', '--field-selector', 'reason=SuccessfulDelete']), /Deleted pod: front-/);
    // An orphan with matching labels is adopted instead of creating a new pod.
    await ok(['scale', 'rs', 'front', '--replicas=2']);
    await waitFor('2 pods', async () => (await podNames()).length === 2);
    const [keep] = await podNames();
    // A pod relabelled out of the selector is released, and replaced.
    await ok(['label', 'pod', keep!, 'app=other', '--overwrite']);
    await waitFor('released', async () => (await ok(['get', 'pod', keep!, '-o', 'jsonpath={.metadata.ownerReferences}'])) === '');
    await waitFor('replaced', async () => (await podNames()).length === 2);
    // Relabelled back, it is adopted again and one pod goes.
    await ok(['label', 'pod', keep!, 'app=front', '--overwrite']);
    await waitFor('adopted', async () => (await ok(['get', 'pod', keep!, '-o', 'jsonpath={.metadata.ownerReferences[0].name}'])) === 'front');
    await waitFor('back to 2', async () => (await podNames()).length === 2);
  });
});
