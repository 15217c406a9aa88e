// Namespace lifecycle against a real `k8ts server` with the real kubectl: a new namespace gets its
// `default` ServiceAccount and `kube-root-ca.crt` (put back when deleted or edited), and a deleted
// namespace holding ConfigMaps, a custom resource and pods is emptied, reports what remains in
// its conditions (a CR held by a finalizer), and disappears once that is released.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConfigMap, Namespace } from 'kubernetes-types/core/v1.js';
import { loadKubeconfigConfig } from '../../../src/client/config.js';
import { newNamespaceController } from '../../../src/controllers/namespace/namespaceController.js';
import { DESCRIPTION, newRootCACertPublisher } from '../../../src/controllers/rootcacertpublisher/publisher.js';
import { newServiceAccountsController } from '../../../src/controllers/serviceaccount/serviceAccountsController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { startFakeKubelet } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

const CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

describe('namespace, serviceaccount and root-ca-certificate-publisher controllers', () => {
  let s: RunningServer;
  let h: Harness;
  let kubelet: { stop(): Promise<void> };
  let caPem: string;
  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const exists = async (args: string[]) => (await s.kubectl(['get', ...args])).code === 0;

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    caPem = (await loadKubeconfigConfig({ path: s.kubeconfig })).caPem!;
    h = await controllerHarness(s.kubeconfig, { rootCAPem: caPem });
    kubelet = await startFakeKubelet(h.client, { nodes: ['n1'] });
    h.run(newNamespaceController(h.ctx), newServiceAccountsController(h.ctx), newRootCACertPublisher(h.ctx));
  });
  after(async () => {
    await kubelet?.stop();
    await h?.stop();
    await s?.stop();
  });

  it('kubectl create ns gets a default ServiceAccount and kube-root-ca.crt, both restored when deleted or edited', async () => {
    await ok(['create', 'ns', 'fresh']);
    await waitFor('default SA', () => exists(['-n', 'fresh', 'sa', 'default']));
    await waitFor('kube-root-ca.crt', () => exists(['-n', 'fresh', 'cm', 'kube-root-ca.crt']));
    const cm = JSON.parse(await ok(['-n', 'fresh', 'get', 'cm', 'kube-root-ca.crt', '-o', 'json'])) as ConfigMap;
    assert.equal(cm.data?.['ca.crt'], caPem);
    assert.equal(cm.metadata?.annotations?.['kubernetes.io/description'], DESCRIPTION);

    const sa = JSON.parse(await ok(['-n', 'fresh', 'get', 'sa', 'default', '-o', 'json'])) as { metadata: { uid: string } };
    await ok(['-n', 'fresh', 'delete', 'sa', 'default']);
    await waitFor('default SA recreated', async () => {
      const r = await s.kubectl(['-n', 'fresh', 'get', 'sa', 'default', '-o', 'jsonpath={.metadata.uid}']);
      return r.code === 0 && r.stdout !== '' && r.stdout !== sa.metadata.uid;
    });

    await ok(['-n', 'fresh', 'patch', 'cm', 'kube-root-ca.crt', '--type=merge', '-p', '{"data":{"ca.crt":"tampered"}}']);
    await waitFor('ca.crt restored', async () => (await ok(['-n', 'fresh', 'get', 'cm', 'kube-root-ca.crt', '-o', 'jsonpath={.data.ca\\.crt}'])) === caPem);
    await ok(['-n', 'fresh', 'delete', 'cm', 'kube-root-ca.crt']);
    await waitFor('kube-root-ca.crt recreated', () => exists(['-n', 'fresh', 'cm', 'kube-root-ca.crt']));
  });

  it('kubectl delete ns empties it (ConfigMaps, a custom resource, pods), reports what remains, then finalizes it', async () => {
    await ok(['apply', '-f', '-'], JSON.stringify(CRD));
    await waitFor('CRD served', async () => (await s.kubectl(['get', 'widgets', '-A'])).code === 0);
    await ok(['create', 'ns', 'doomed']);
    await ok(['-n', 'doomed', 'create', 'configmap', 'one', '--from-literal=a=b']);
    await ok(['-n', 'doomed', 'create', 'configmap', 'two']);
    await ok(['-n', 'doomed', 'apply', '-f', '-'], JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'held', finalizers: ['example.com/hold'] }, spec: { size: 1 } }));
    await ok(['-n', 'doomed', 'apply', '-f', '-'], JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'free' } }));
    await ok(['-n', 'doomed', 'run', 'p1', '--image=busybox', '--restart=Never']);
    await ok(['-n', 'doomed', 'run', 'p2', '--image=busybox', '--restart=Never']);
    await waitFor('pods running', async () => (await ok(['-n', 'doomed', 'get', 'pods', '-o', 'jsonpath={.items[*].status.phase}'])) === 'Running Running');

    await ok(['delete', 'ns', 'doomed', '--wait=false']);
    const conditionsOf = async () => {
      const ns = JSON.parse(await ok(['get', 'ns', 'doomed', '-o', 'json'])) as Namespace;
      return new Map((ns.status?.conditions ?? []).map((c) => [c.type, c]));
    };
    await waitFor('conditions report the held widget', async () => {
      const c = await conditionsOf();
      return c.get('NamespaceFinalizersRemaining')?.status === 'True' && c.get('NamespaceContentRemaining')?.message === 'Some resources are remaining: widgets.example.com has 1 resource instances';
    });
    const c = await conditionsOf();
    assert.deepEqual([c.get('NamespaceFinalizersRemaining')!.reason, c.get('NamespaceFinalizersRemaining')!.message], ['SomeFinalizerRemain', 'Some finalizers are remaining: example.com/hold in 1 resource instances']);
    assert.deepEqual([c.get('NamespaceDeletionDiscoveryFailure')!.status, c.get('NamespaceDeletionDiscoveryFailure')!.reason], ['False', 'ResourcesDiscovered']);
    assert.deepEqual([c.get('NamespaceDeletionContentFailure')!.status, c.get('NamespaceDeletionContentFailure')!.reason], ['False', 'ContentDeleted']);
    assert.equal((await ok(['get', 'ns', 'doomed', '-o', 'jsonpath={.status.phase}'])), 'Terminating');
    assert.equal((await ok(['-n', 'doomed', 'get', 'configmaps,pods', '-o', 'name'])).trim(), '', 'everything without a finalizer is gone');
    assert.equal((await ok(['-n', 'doomed', 'get', 'widgets', '-o', 'name'])).trim(), 'widget.example.com/held');

    await ok(['-n', 'doomed', 'patch', 'widget', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await waitFor('namespace gone', async () => !(await exists(['ns', 'doomed'])));
  });
});
