// ServiceLB against a real `k8ts server` with the real kubectl: `kubectl expose --type=LoadBalancer`
// gets the nodes' addresses as EXTERNAL-IP, a second Service on the same port stays <pending>
// with a Warning event until the first goes, other ports share the addresses, a
// loadBalancerClass is left alone; inside `k8ts server` it serves from --servicelb-pool, and
// `--disable servicelb` leaves LoadBalancer Services <pending>.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Event, Node, Service } from 'kubernetes-types/core/v1.js';
import { newServiceLBController } from '../../../src/controllers/servicelb/serviceLBController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { nodeObject } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

const FINALIZER = 'service.kubernetes.io/load-balancer-cleanup';

function kubectlHelpers(s: () => RunningServer) {
  const ok = async (args: string[], input?: string) => {
    const r = await s().kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** The EXTERNAL-IP column of `kubectl get svc NAME`. */
  const externalIP = async (name: string) => {
    const out = await ok(['get', 'svc', name, '--no-headers']);
    return out.trim().split(/\s+/)[3];
  };
  const service = async (name: string) => JSON.parse(await ok(['get', 'svc', name, '-o', 'json'])) as Service;
  const events = async (name: string) => (JSON.parse(await ok(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])) as { items: Event[] }).items;
  return { ok, externalIP, service, events };
}

describe('service-lb-controller (ServiceLB) with the nodes’ addresses', () => {
  let s: RunningServer;
  let h: Harness;
  const { ok, externalIP, service, events } = kubectlHelpers(() => s);

  const lbNode = (name: string, ip: string): Node => {
    const n = nodeObject(name);
    n.status!.addresses = [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }];
    return n;
  };

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig);
    const nodes = h.client.resource<Node>('', 'v1', 'nodes');
    await nodes.create(lbNode('n1', '192.0.2.11'));
    await nodes.create(lbNode('n2', '192.0.2.12'));
    h.run(newServiceLBController(h.ctx, { minRetryDelayMs: 200, maxRetryDelayMs: 2000 }));
    await ok(['create', 'deployment', 'web', '--image=nginx']);
  });
  after(async () => {
    await h?.stop();
    await s?.stop();
  });

  it('kubectl expose --type=LoadBalancer shows the nodes’ addresses as EXTERNAL-IP, with the cleanup finalizer and upstream’s events', async () => {
    await ok(['expose', 'deployment', 'web', '--port=80', '--type=LoadBalancer']);
    await waitFor('web EXTERNAL-IP', async () => (await externalIP('web')) === '192.0.2.11,192.0.2.12');
    const svc = await service('web');
    assert.deepEqual(svc.status?.loadBalancer?.ingress, [
      { ip: '192.0.2.11', ipMode: 'VIP' },
      { ip: '192.0.2.12', ipMode: 'VIP' },
    ]);
    assert.deepEqual(svc.metadata?.finalizers, [FINALIZER]);
    const ev = await waitFor('Ensured event', async () => {
      const e = await events('web');
      return e.some((x) => x.reason === 'EnsuredLoadBalancer') ? e : undefined;
    });
    const ensuring = ev.find((x) => x.reason === 'EnsuringLoadBalancer');
    assert.equal(ensuring?.message, 'Ensuring load balancer');
    assert.equal(ensuring?.source?.component, 'service-controller');
    assert.equal(ev.find((x) => x.reason === 'EnsuredLoadBalancer')?.message, 'Ensured load balancer');
  });

  it('a second Service on the same port stays <pending> with a Warning naming the clash; one on another port shares the addresses', async () => {
    await ok(['expose', 'deployment', 'web', '--name=web2', '--port=80', '--type=LoadBalancer']);
    await ok(['expose', 'deployment', 'web', '--name=api', '--port=443', '--type=LoadBalancer']);
    await waitFor('api EXTERNAL-IP', async () => (await externalIP('api')) === '192.0.2.11,192.0.2.12');
    const warning = await waitFor('a SyncLoadBalancerFailed event on web2', async () => (await events('web2')).find((e) => e.reason === 'SyncLoadBalancerFailed'));
    assert.equal(warning.type, 'Warning');
    assert.equal(warning.message, 'Error syncing load balancer: failed to ensure load balancer: port 80/TCP already in use on 192.0.2.11, 192.0.2.12 by Service default/web');
    assert.equal(await externalIP('web2'), '<pending>');
    assert.match(await ok(['describe', 'svc', 'web2']), /Warning\s+SyncLoadBalancerFailed/);
  });

  it('deleting the first Service frees its addresses for the pending one, and nothing of it is left', async () => {
    await ok(['delete', 'svc', 'web', '--wait=true']);
    const r = await s.kubectl(['get', 'svc', 'web']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NotFound/);
    await waitFor('web2 EXTERNAL-IP', async () => (await externalIP('web2')) === '192.0.2.11,192.0.2.12');
    assert.ok((await events('web')).some((e) => e.reason === 'DeletedLoadBalancer'));
  });

  it('spec.loadBalancerIP picks one node address; one that is no node address stays <pending>', async () => {
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: pinned}\nspec:\n  type: LoadBalancer\n  loadBalancerIP: 192.0.2.12\n  selector: {app: web}\n  ports: [{port: 8080}]\n');
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: stray}\nspec:\n  type: LoadBalancer\n  loadBalancerIP: 203.0.113.9\n  selector: {app: web}\n  ports: [{port: 8081}]\n');
    await waitFor('pinned EXTERNAL-IP', async () => (await externalIP('pinned')) === '192.0.2.12');
    const warning = await waitFor('stray warning', async () => (await events('stray')).find((e) => e.reason === 'SyncLoadBalancerFailed'));
    assert.match(warning.message ?? '', /spec\.loadBalancerIP 203\.0\.113\.9 is not an address of an available node/);
    assert.equal(await externalIP('stray'), '<pending>');
  });

  it('a cordoned node stops serving; the Service keeps the other node’s address', async () => {
    await ok(['cordon', 'n1']);
    await waitFor('api on n2 only', async () => (await externalIP('api')) === '192.0.2.12');
    await ok(['uncordon', 'n1']);
    await waitFor('api on both again', async () => (await externalIP('api')) === '192.0.2.11,192.0.2.12');
  });

  it('turning a Service into ClusterIP clears its status and removes the finalizer', async () => {
    await ok(['patch', 'svc', 'api', '-p', '{"spec":{"type":"ClusterIP"}}']);
    const svc = await waitFor('api cleaned up', async () => {
      const x = await service('api');
      return !x.metadata?.finalizers?.length && !x.status?.loadBalancer?.ingress ? x : undefined;
    });
    assert.equal(svc.spec?.type, 'ClusterIP');
    assert.equal(await externalIP('api'), '<none>');
  });

  it('a Service with a loadBalancerClass is another implementation’s: no status, finalizer or events from ServiceLB', async () => {
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: classy}\nspec:\n  type: LoadBalancer\n  loadBalancerClass: example.com/lb\n  selector: {app: web}\n  ports: [{port: 9000}]\n');
    // Give the controller time to (wrongly) act on it, after a Service it does serve has been handled.
    await ok(['expose', 'deployment', 'web', '--name=marker', '--port=9001', '--type=LoadBalancer']);
    await waitFor('marker EXTERNAL-IP', async () => (await externalIP('marker')) !== '<pending>');
    const svc = await service('classy');
    assert.equal(svc.metadata?.finalizers, undefined);
    assert.equal(svc.status?.loadBalancer?.ingress, undefined);
    assert.deepEqual(await events('classy'), []);
    assert.equal(await externalIP('classy'), '<pending>');
  });
});

describe('ServiceLB inside k8ts server', () => {
  let s: RunningServer;
  const { ok, externalIP, service } = kubectlHelpers(() => s);
  after(async () => {
    await s?.stop();
  });

  it('serves LoadBalancer Services from --servicelb-pool', async () => {
    s = await startK8tsServer(['--disable-agent', '--servicelb-pool', '198.51.100.10-198.51.100.11']);
    await ok(['create', 'deployment', 'web', '--image=nginx']);
    await ok(['expose', 'deployment', 'web', '--port=80', '--type=LoadBalancer']);
    await ok(['expose', 'deployment', 'web', '--name=web2', '--port=80', '--type=LoadBalancer']);
    await waitFor('web EXTERNAL-IP', async () => (await externalIP('web')) === '198.51.100.10', 30_000);
    await waitFor('web2 EXTERNAL-IP', async () => (await externalIP('web2')) === '198.51.100.11', 30_000);
    await s.stop();
  });

  it('--disable servicelb leaves them <pending> for an external implementation', async () => {
    s = await startK8tsServer(['--disable-agent', '--disable', 'servicelb', '--servicelb-pool', '198.51.100.10']);
    await ok(['create', 'deployment', 'web', '--image=nginx']);
    await ok(['expose', 'deployment', 'web', '--port=80', '--type=LoadBalancer']);
    // The controller manager is up (its Deployment controller acts) but ServiceLB never touches the Service.
    await waitFor('the Deployment’s ReplicaSet', async () => (await ok(['get', 'rs', '-l', 'app=web', '--no-headers'])).includes('web-'));
    await new Promise((r) => setTimeout(r, 1500));
    const svc = await service('web');
    assert.equal(svc.metadata?.finalizers, undefined);
    assert.equal(await externalIP('web'), '<pending>');
    await s.stop();
  });

  it('refuses an unknown --disable name and a bad --servicelb-pool at start', async () => {
    await assert.rejects(startK8tsServer(['--disable-agent', '--disable', 'traefik']), /unknown component "traefik"/);
    await assert.rejects(startK8tsServer(['--disable-agent', '--servicelb-pool', '10.0.0.0/33']), /--servicelb-pool: invalid CIDR "10\.0\.0\.0\/33"/);
  });
});
