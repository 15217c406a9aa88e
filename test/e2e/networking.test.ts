// Services, DNS and LoadBalancer end to end, as a user sees them on a small cluster: a server on
// the host and two `k8ts agent`s in network namespaces (test/support/netnsCluster.ts). kube-proxy
// and CoreDNS run as the kube-system pods the server deploys; the host plays the outside client
// for NodePort and LoadBalancer traffic. The Service checks run once per proxy mode
// the kernel supports, switching modes the way a user would (edit the kube-proxy ConfigMap, restart
// the DaemonSet). NetworkPolicy across nodes is in multinode.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningServer } from '../support/k8tsServer.js';
import { startNetnsCluster, type NetnsAgent, type NetnsCluster } from '../support/netnsCluster.js';
import { buildBusyboxImage } from '../support/images.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/waitFor.js';

const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));
const IMAGE = 'localhost/e2e/busybox:1';
const has = (bin: string) => (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, bin)));
const ok = process.getuid?.() === 0 && has('runc') && has('nsenter') && has('iptables-restore') && has('nft') && existsSync('/usr/lib/cni/bridge');

/** curl-like GET from the host (the cluster's outside); undefined when it fails. */
function hostGet(url: string, timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '--max-time', String(timeoutMs / 1000), url], { timeout: timeoutMs + 2000 }, (err, stdout) => resolve(err ? undefined : stdout.trim()));
  });
}

describe('Services, DNS and LoadBalancer across two nodes', { skip: ok ? false : 'needs root, runc, nsenter, iptables, nft and the CNI plugins' }, () => {
  const work = tempDir('k8ts-nw-img-');
  let cluster: NetnsCluster;
  let server: RunningServer;
  let agents: NetnsAgent[];
  let k: NetnsCluster['k'];
  const apply = async (yaml: string) => {
    const res = await server.kubectl(['apply', '-f', '-'], { input: yaml, timeoutMs: 60_000 });
    assert.equal(res.code, 0, res.stderr);
  };
  /** Runs a command in a pod; the result, or undefined when it exits non-zero. */
  const inPod = async (pod: string, cmd: string, ns = 'default') => {
    const res = await server.kubectl(['exec', '-n', ns, pod, '--', 'sh', '-c', cmd], { timeoutMs: 30_000 });
    return res.code === 0 ? res.stdout.trim() : undefined;
  };
  const diagnostics = () =>
    agents
      .map((a) => {
        let rules = '';
        try {
          rules = execFileSync('ip', ['netns', 'exec', a.netns, 'iptables-save', '-t', 'nat'], { stdio: 'pipe' }).toString().slice(0, 4000);
        } catch {
          // no rules
        }
        return `${a.name} log:\n${a.log.slice(-2500)}\n${a.name} nat:\n${rules}`;
      })
      .join('\n----\n');
  const clientPod = (name: string, ns: string, node: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  nodeName: ${node}\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: ${IMAGE}, imagePullPolicy: IfNotPresent, command: ["sleep", "3600"]}\n`;

  before(async () => {
    await buildBusyboxImage(work.path, IMAGE);
    cluster = await startNetnsCluster({ prefix: 'nw', subnet: 31, addons: true });
    ({ server, agents, k } = cluster);
    cluster.importImage(join(work.path, 'docker.tar'));
    await waitFor('kube-proxy and CoreDNS Running', async () => {
      const pods = await k('get', 'pods', '-n', 'kube-system', '--no-headers');
      return (pods.match(/^kube-proxy-\S+\s+1\/1\s+Running/gm) ?? []).length === 2 && /^coredns-\S+\s+1\/1\s+Running/m.test(pods);
    }, 120_000).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n${await k('get', 'pods', '-A', '-o', 'wide')}\n${diagnostics()}`);
    });
    // The backends all run on nw-1; the clients on nw-2, so every request crosses nodes.
    await apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/hostname: nw-1}
      terminationGracePeriodSeconds: 5
      containers:
      - name: httpd
        image: ${IMAGE}
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "trap 'sleep 2; exit 0' TERM; httpd -f -p 8080 -h /etc & wait"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /hostname, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`);
    await apply(clientPod('client', 'default', 'nw-2'));
    await waitFor('web and client Running', async () => ((await k('get', 'pods', '--no-headers')).match(/1\/1\s+Running/g) ?? []).length === 3, 120_000);
  });

  after(async () => {
    if (process.env.K8TS_E2E_KEEP) return;
    await cluster?.stop({ allNamespaces: true });
    work.remove();
  });

  it('shows the kube-proxy ConfigMap mode and the kube-dns Service on 10.96.0.10', async () => {
    assert.match(await k('get', 'configmap', 'kube-proxy', '-n', 'kube-system', '-o', 'yaml'), /mode: "?iptables"?/);
    assert.equal((await k('get', 'svc', 'kube-dns', '-n', 'kube-system', '-o', 'jsonpath={.spec.clusterIP}')).trim(), '10.96.0.10');
  });

  it('resolves Service names, SRV and PTR from inside a pod', async () => {
    const clusterIP = (await k('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}')).trim();
    const a = await waitFor('nslookup web', async () => {
      const out = await inPod('client', 'nslookup web.default.svc.cluster.local');
      return out?.includes(clusterIP) ? out : undefined;
    }, 30_000);
    assert.match(a, new RegExp(`Address:? *(1: )?${clusterIP.replace(/\./g, '\\.')}`));
    // busybox's nslookup does not apply resolv.conf's search list (wget by short name below does).
    assert.match((await inPod('client', 'nslookup kubernetes.default.svc.cluster.local')) ?? '', /10\.96\.0\.1\b/);
    const srv = (await inPod('client', 'nslookup -type=srv _http._tcp.web.default.svc.cluster.local')) ?? '';
    assert.match(srv, /web\.default\.svc\.cluster\.local/);
    assert.match(srv, /\b80\b/);
    const ptr = (await inPod('client', `nslookup ${clusterIP}`)) ?? '';
    assert.match(ptr, /web\.default\.svc\.cluster\.local/);
    // A name that does not exist is NXDOMAIN, not a hang.
    const missing = await server.kubectl(['exec', 'client', '--', 'nslookup', 'nope.default.svc.cluster.local'], { timeoutMs: 20_000 });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stdout + missing.stderr, /NXDOMAIN|can't find/);
  });

  const serviceChecks = (mode: string) => {
    it(`${mode}: a ClusterIP Service answers by name and IP from a pod on another node`, async () => {
      const clusterIP = (await k('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}')).trim();
      const byName = await waitFor('web by name', () => inPod('client', 'timeout 5 wget -qO- http://web/hostname'), 30_000);
      assert.match(byName, /^web-/);
      assert.match((await inPod('client', `timeout 5 wget -qO- http://${clusterIP}/hostname`)) ?? '', /^web-/);
    });

    it(`${mode}: a NodePort Service answers from the host on every node's address`, async () => {
      await server.kubectl(['delete', 'svc', 'web-np', '--ignore-not-found']);
      await k('expose', 'deployment', 'web', '--name', 'web-np', '--type', 'NodePort', '--port', '80', '--target-port', '8080');
      const np = (await k('get', 'svc', 'web-np', '-o', 'jsonpath={.spec.ports[0].nodePort}')).trim();
      assert.ok(Number(np) >= 30000 && Number(np) <= 32767, np);
      for (const a of agents) {
        const body = await waitFor(`NodePort on ${a.name}`, () => hostGet(`http://${a.ip}:${np}/hostname`), 15_000).catch((err: unknown) => {
          throw new Error(`${(err as Error).message}\n${diagnostics()}`);
        });
        assert.match(body, /^web-/);
      }
    });

    it(`${mode}: a LoadBalancer Service answers on its assigned address`, async () => {
      await server.kubectl(['delete', 'svc', 'web-lb', '--ignore-not-found']);
      await k('expose', 'deployment', 'web', '--name', 'web-lb', '--type', 'LoadBalancer', '--port', '8081', '--target-port', '8080');
      const lbIP = await waitFor('an ingress address', async () => (await k('get', 'svc', 'web-lb', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')).trim() || undefined, 30_000);
      assert.ok(agents.some((a) => a.ip === lbIP), `${lbIP} is a node address`);
      assert.match(await waitFor('LoadBalancer address', () => hostGet(`http://${lbIP}:8081/hostname`), 15_000), /^web-/);
    });

    it(`${mode}: a Service without endpoints refuses at once instead of hanging`, async () => {
      await server.kubectl(['delete', 'svc', 'empty', '--ignore-not-found']);
      await k('create', 'service', 'clusterip', 'empty', '--tcp', '80:80');
      const start = Date.now();
      const out = await server.kubectl(['exec', 'client', '--', 'sh', '-c', 'timeout 5 wget -qO- http://empty/ 2>&1; echo rc=$?'], { timeoutMs: 20_000 });
      assert.match(out.stdout, /refused|rc=1/);
      assert.ok(Date.now() - start < 5000, 'rejected, not timed out');
    });
  };

  serviceChecks('iptables');

  it('scaling moves traffic within a second and no request reaches a deleted pod', async () => {
    await k('scale', 'deployment', 'web', '--replicas', '3');
    await waitFor('3 web pods ready', async () => (await k('get', 'endpointslices', '-l', 'kubernetes.io/service-name=web', '-o', 'jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}')).trim().split(/\s+/).length === 3, 60_000);
    // 60 requests, one every 100 ms, while scaling down to one pod: every one must succeed.
    const loop = server.kubectl(['exec', 'client', '--', 'sh', '-c', 'i=0; while [ $i -lt 60 ]; do timeout 3 wget -qO- http://web/hostname || echo FAIL; i=$((i+1)); sleep 0.1; done'], { timeoutMs: 60_000 });
    await new Promise((res) => setTimeout(res, 1000));
    await k('scale', 'deployment', 'web', '--replicas', '1');
    const out = await loop;
    assert.equal(out.code, 0, out.stderr);
    const answers = out.stdout.trim().split('\n');
    assert.equal(answers.length, 60);
    assert.ok(!answers.includes('FAIL'), `a request failed:\n${answers.join('\n')}`);
    // A second after the scale-down, only the remaining pod answers.
    const left = (await k('get', 'endpointslices', '-l', 'kubernetes.io/service-name=web', '-o', 'jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].targetRef.name}')).trim().split(/\s+/);
    assert.equal(left.length, 1);
    const after = await inPod('client', 'i=0; while [ $i -lt 10 ]; do timeout 3 wget -qO- http://web/hostname; i=$((i+1)); done');
    assert.deepEqual([...new Set((after ?? '').split('\n'))], left);
    await k('scale', 'deployment', 'web', '--replicas', '2');
  });

  it('switches kube-proxy to nftables through its ConfigMap', async () => {
    const cm = JSON.parse(await k('get', 'configmap', 'kube-proxy', '-n', 'kube-system', '-o', 'json')) as { data: Record<string, string> };
    const conf = cm.data['config.conf']!.replace(/^mode: .*$/m, 'mode: "nftables"');
    assert.match(conf, /mode: "nftables"/);
    await apply(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-proxy', namespace: 'kube-system' }, data: { ...cm.data, 'config.conf': conf } }));
    await k('rollout', 'restart', 'daemonset', 'kube-proxy', '-n', 'kube-system');
    await k('rollout', 'status', 'daemonset', 'kube-proxy', '-n', 'kube-system', '--timeout', '90s');
    await waitFor('nftables rules on both nodes', async () =>
      agents.every((a) => {
        try {
          return execFileSync('ip', ['netns', 'exec', a.netns, 'nft', 'list', 'table', 'ip', 'kube-proxy'], { stdio: 'pipe' }).toString().includes('service-ips');
        } catch {
          return false;
        }
      }), 30_000);
  });

  serviceChecks('nftables');

  it('IPVS mode fails with a clear error on a kernel without ip_vs', { skip: existsSync('/proc/net/ip_vs') ? 'this kernel has IPVS' : false }, async () => {
    const res = spawn('nsenter', [`--net=/var/run/netns/${agents[0]!.netns}`, process.execPath, BIN, 'proxy', '--kubeconfig', server.kubeconfig, '--proxy-mode', 'ipvs', '--hostname-override', 'nw-1', '--healthz-bind-address', '127.0.0.1:0', '--metrics-bind-address', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    res.stdout.on('data', (d: Buffer) => (out += d.toString()));
    res.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        res.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      res.once('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    assert.notEqual(code, 0, `kube-proxy in IPVS mode kept running: ${out}`);
    assert.match(out, /ip_vs/);
  });
});
