// The cluster add-ons as a user of a kubeadm cluster sees them, on a real `k8ts server` with its
// own node, run inside a network namespace (kube-proxy's pods use the host network: here that is
// the namespace's, never the machine's): the coredns Deployment behind kube-dns on 10.96.0.10, the
// kube-proxy DaemonSet and ConfigMap, pods of RuntimeClass k8ts running the built-in image, and the
// RuntimeClass errors. With containerd as the node's runtime, RuntimeClass k8ts still runs pods
// with the built-in process runtime while other pods go to containerd.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startK8tsServer, type RunningServer } from '../support/k8tsServer.js';
import { buildBusyboxImage } from '../support/images.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/waitFor.js';

const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));
const IMAGE = 'localhost/e2e/busybox:1';
const VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string }).version;
const BUILTIN = `k8ts.io/k8ts:v${VERSION}`;
const isRoot = process.getuid?.() === 0;
const has = (bin: string) => (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, bin)));
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();
/** Whether this checkout has the programs the add-ons run (helpers `dns` and `proxy` add them). */
const hasCommand = (name: string) => new RegExp(`^  ${name}\\b`, 'm').test(spawnSync(process.execPath, [BIN, '--help'], { stdio: 'pipe' }).stdout.toString());

const runtimes = [
  { name: 'process', ok: isRoot && has('runc') && has('nsenter') && existsSync('/usr/lib/cni/bridge') },
  { name: 'containerd', ok: isRoot && has('containerd') && has('runc') && has('nsenter') && existsSync('/usr/lib/cni/bridge') },
];

for (const rt of runtimes) {
  describe(`cluster add-ons on a ${rt.name} node`, { skip: rt.ok ? false : `needs root, runc, nsenter, CNI plugins${rt.name === 'containerd' ? ' and containerd' : ''}` }, () => {
    const r = Math.floor(Math.random() * 200) + 20;
    const netns = `k8ts-addons-${rt.name[0]}${r}-${process.pid}`;
    const nodeIP = `172.31.${r}.2`;
    const bridge = `k8tsad${rt.name[0]}${r}`;
    const node = `addons-${rt.name}`;
    const work = tempDir('k8ts-addons-img-');
    let server: RunningServer;
    const k = async (...args: string[]) => {
      const res = await server.kubectl(args, { timeoutMs: 60_000 });
      if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr}`);
      return res.stdout;
    };
    const apply = async (yaml: string) => server.kubectl(['apply', '-f', '-'], { input: yaml });
    const diagnose = async () => `${await server.kubectl(['get', 'pods', '-A', '-o', 'wide']).then((x) => x.stdout)}\n${await server.kubectl(['get', 'events', '-A']).then((x) => x.stdout.slice(-4000))}\n${server.log().slice(-3000)}`;

    before(async () => {
      ip('netns', 'add', netns);
      ip('-n', netns, 'link', 'set', 'lo', 'up');
      // The node's address: one end of a veth pair that stays inside the namespace.
      ip('-n', netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1');
      ip('-n', netns, 'addr', 'add', `${nodeIP}/24`, 'dev', 'eth0');
      ip('-n', netns, 'link', 'set', 'eth0', 'up');
      ip('-n', netns, 'link', 'set', 'eth1', 'up');
      ip('-n', netns, 'route', 'add', 'default', 'via', `172.31.${r}.1`, 'dev', 'eth0', 'onlink');
      server = await startK8tsServer(
        ['--bind-address', '0.0.0.0', '--advertise-address', nodeIP, '--runtime', rt.name, '--kubelet-port', '0', '--cluster-cidr', `10.${r}.0.0/16`, '--cni-bridge', bridge, '--node-name', node],
        { agent: true, addons: true, netns, readyTimeoutMs: 90_000 },
      );
      await waitFor('the node to be Ready', async () => (await k('get', 'nodes', '--no-headers')).includes(' Ready '), 90_000);
      if (rt.name === 'containerd') {
        await buildBusyboxImage(work.path, IMAGE);
        execFileSync('nsenter', [`--net=/var/run/netns/${netns}`, process.execPath, BIN, 'images', 'import', '--data-dir', server.dataDir, join(work.path, 'docker.tar')], { stdio: 'pipe' });
      }
    });

    after(async () => {
      if (server) {
        // The server re-creates deleted add-ons: stop it first, then stop what its node left running.
        await server.halt();
        try {
          execFileSync('nsenter', [`--net=/var/run/netns/${netns}`, process.execPath, BIN, 'killall', '--data-dir', server.dataDir, '--cni-bridge', bridge], { stdio: 'pipe' });
        } catch {
          // nothing left
        }
        await server.stop();
      }
      try {
        ip('netns', 'delete', netns);
      } catch {
        // already gone
      }
      work.remove();
    });

    it('creates the RuntimeClass k8ts, the coredns Deployment, the kube-dns Service on 10.96.0.10 and the kube-proxy DaemonSet and ConfigMap', async () => {
      assert.match(await k('get', 'runtimeclass', 'k8ts', '--no-headers'), /^k8ts\s+k8ts\s/);
      const dep = JSON.parse(await k('get', 'deployment', '-n', 'kube-system', 'coredns', '-o', 'json'));
      assert.equal(dep.metadata.labels['k8s-app'], 'kube-dns');
      assert.equal(dep.spec.template.spec.containers[0].image, BUILTIN);
      const svc = await k('get', 'service', '-n', 'kube-system', 'kube-dns', '--no-headers');
      assert.match(svc, /^kube-dns\s+ClusterIP\s+10\.96\.0\.10\s+<none>\s+53\/UDP,53\/TCP,9153\/TCP\s/);
      // As the tutorial checks the proxy mode.
      assert.match(await k('get', 'configmap', 'kube-proxy', '-n', 'kube-system', '-o', 'yaml'), /^\s+mode: iptables$/m);
      const ds = JSON.parse(await k('get', 'daemonset', '-n', 'kube-system', 'kube-proxy', '-o', 'json'));
      assert.equal(ds.spec.template.spec.hostNetwork, true);
      assert.equal(ds.spec.template.spec.containers[0].securityContext.privileged, true);
    });

    it('lists the coredns and kube-proxy pods in kube-system, started from the built-in image without a pull', async () => {
      const dnsReady = hasCommand('dns');
      const proxyReady = hasCommand('proxy');
      await waitFor(
        'coredns and kube-proxy pods started',
        async () => {
          const out = await k('get', 'pods', '-n', 'kube-system', '--no-headers');
          const dns = out.split('\n').find((l) => l.startsWith('coredns-'));
          const proxy = out.split('\n').find((l) => l.startsWith('kube-proxy-'));
          // Until `k8ts dns` / `k8ts proxy` exist in this checkout, their containers start and exit (unknown command).
          const ok = (line: string | undefined, ready: boolean) => (ready ? /\s1\/1\s+Running\s/.test(line ?? '') : /\s(Running|Error|CrashLoopBackOff|Completed)\s/.test(line ?? ''));
          return ok(dns, dnsReady) && ok(proxy, proxyReady);
        },
        180_000,
        1000,
      ).catch(async (err: unknown) => {
        throw new Error(`${(err as Error).message}\n${await diagnose()}`);
      });
      const events = await k('get', 'events', '-n', 'kube-system', '--field-selector', 'reason=Pulled', '-o', 'jsonpath={.items[*].message}');
      assert.match(events, new RegExp(`Container image "${BUILTIN.replace(/\./g, '\\.')}" already present on machine`));
      const proxyPod = JSON.parse(await k('get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy', '-o', 'json')).items[0];
      assert.equal(proxyPod.status.podIP, nodeIP, 'kube-proxy runs on the node network');
      if (!proxyReady) assert.match(await k('logs', '-n', 'kube-system', proxyPod.metadata.name), /unknown command 'proxy'/);
      const dnsPod = JSON.parse(await k('get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-dns', '-o', 'json')).items[0];
      assert.match(dnsPod.status.podIP, new RegExp(`^10\\.${r}\\.`), 'coredns runs on the pod network');
      if (!dnsReady) assert.match(await k('logs', '-n', 'kube-system', dnsPod.metadata.name), /unknown command 'dns'/);
    });

    it('runs a long-running k8ts command from the built-in image as a real container: own pids, read-only system files, kubeconfig.conf with the pod token, exec, and gone on delete', async () => {
      const marker = `addons-e2e-${rt.name}-${r}`;
      const res = await apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: sched-config, namespace: kube-system}
data:
  config.yaml: |
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    leaderElection: {leaderElect: true, resourceName: ${marker}, resourceNamespace: kube-system}
    profiles:
    - schedulerName: ${marker}
---
apiVersion: v1
kind: Pod
metadata: {name: builtin-sched, namespace: kube-system}
spec:
  runtimeClassName: k8ts
  hostNetwork: true
  serviceAccountName: kube-proxy
  terminationGracePeriodSeconds: 2
  containers:
  - name: scheduler
    image: ${BUILTIN}
    command: ["k8ts", "scheduler", "--config=/etc/${marker}/config.yaml", "--kubeconfig=/var/lib/kube-proxy/kubeconfig.conf", "--secure-port=0"]
    volumeMounts:
    - {name: kube-proxy, mountPath: /var/lib/kube-proxy}
    - {name: config, mountPath: /etc/${marker}}
  volumes:
  - {name: kube-proxy, configMap: {name: kube-proxy}}
  - {name: config, configMap: {name: sched-config}}
`);
      assert.equal(res.code, 0, res.stderr);
      await waitFor('the built-in scheduler pod Running', async () => /1\/1\s+Running/.test(await k('get', 'pod', '-n', 'kube-system', 'builtin-sched', '--no-headers')), 90_000).catch(async (err: unknown) => {
        throw new Error(`${(err as Error).message}\n${await diagnose()}`);
      });
      // It reached the API server through kubeconfig.conf (the pod's service-account token and CA): it holds its lease and schedules.
      await waitFor('its leader lease', async () => (await k('get', 'lease', '-n', 'kube-system', marker, '-o', 'jsonpath={.spec.holderIdentity}')).trim() !== '', 60_000);
      assert.equal((await apply(`apiVersion: v1\nkind: Pod\nmetadata: {name: picky}\nspec:\n  schedulerName: ${marker}\n  containers: [{name: c, image: ${BUILTIN}, command: ["sleep", "600"]}]\n`)).code, 0);
      await waitFor('the pod bound by the built-in scheduler', async () => (await k('get', 'pod', 'picky', '-o', 'jsonpath={.spec.nodeName}')).trim() === node, 60_000);
      assert.match(await k('logs', '-n', 'kube-system', 'builtin-sched'), /k8ts scheduler running/);
      // A container of its own: its own pid namespace, the host's system files read-only.
      const pids = (await k('exec', '-n', 'kube-system', 'builtin-sched', '--', 'sh', '-c', 'ls /proc | grep -c "^[0-9]"')).trim();
      assert.ok(Number(pids) < 10, `the container sees only its own processes, not ${pids}`);
      const write = await server.kubectl(['exec', '-n', 'kube-system', 'builtin-sched', '--', 'sh', '-c', 'touch /usr/k8ts-e2e-write 2>&1']);
      assert.notEqual(write.code, 0);
      assert.match(write.stdout + write.stderr, /Read-only file system/);
      assert.match(await k('exec', '-n', 'kube-system', 'builtin-sched', '--', 'k8ts', '--help'), /Usage: k8ts/);
      await k('delete', 'pod', '-n', 'kube-system', 'builtin-sched', '--wait=true', '--timeout=60s');
      await k('delete', 'pod', 'picky', '--grace-period=1', '--wait=false');
      await waitFor('the scheduler process gone', async () => spawnSync('pgrep', ['-f', marker]).status === 1, 30_000);
    });

    it('rejects a pod naming a missing RuntimeClass, as the RuntimeClass admission plugin does', async () => {
      const res = await apply(`apiVersion: v1\nkind: Pod\nmetadata: {name: nowhere}\nspec:\n  runtimeClassName: nope\n  containers: [{name: c, image: ${BUILTIN}}]\n`);
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /pods "nowhere" is forbidden: pod rejected: RuntimeClass "nope" not found/);
    });

    it('fails the sandbox of a pod whose RuntimeClass went away before it reached the node, with the kubelet\'s event', async () => {
      await apply(`apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: short-lived}\nhandler: k8ts\n`);
      // Nobody schedules this pod: it waits while its RuntimeClass is deleted, then is bound by hand.
      assert.equal((await apply(`apiVersion: v1\nkind: Pod\nmetadata: {name: orphan}\nspec:\n  runtimeClassName: short-lived\n  schedulerName: nobody\n  terminationGracePeriodSeconds: 1\n  containers: [{name: c, image: ${BUILTIN}, command: ["sleep", "600"]}]\n`)).code, 0);
      await k('delete', 'runtimeclass', 'short-lived');
      const binding = JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name: 'orphan' }, target: { apiVersion: 'v1', kind: 'Node', name: node } });
      const bound = await server.kubectl(['create', '--raw', '/api/v1/namespaces/default/pods/orphan/binding', '-f', '-'], { input: binding });
      assert.equal(bound.code, 0, bound.stderr);
      const msg = await waitFor('the FailedCreatePodSandBox event', async () => {
        const m = await k('get', 'events', '--field-selector', 'involvedObject.name=orphan,reason=FailedCreatePodSandBox', '-o', 'jsonpath={.items[*].message}');
        return m.trim() || undefined;
      }, 60_000);
      assert.match(msg, /Failed to create pod sandbox: runtimeclass\.node\.k8s\.io "short-lived" not found/);
      assert.match(await k('get', 'pod', 'orphan', '--no-headers'), /0\/1\s+ContainerCreating/);
      await k('delete', 'pod', 'orphan', '--grace-period=0', '--force', '--wait=false');
    });

    if (rt.name === 'containerd') {
      it('runs pods of RuntimeClass k8ts with the built-in process runtime while other pods go to containerd', async () => {
        const pod = (name: string, extra: string, image: string) =>
          `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  terminationGracePeriodSeconds: 1\n${extra}  containers: [{name: c, image: ${image}, imagePullPolicy: IfNotPresent, command: ["sleep", "600"]}]\n`;
        assert.equal((await apply(pod('on-k8ts', '  runtimeClassName: k8ts\n', BUILTIN))).code, 0);
        assert.equal((await apply(pod('on-containerd', '', IMAGE))).code, 0);
        await waitFor('both pods Running', async () => ((await k('get', 'pods', 'on-k8ts', 'on-containerd', '--no-headers')).match(/1\/1\s+Running/g) ?? []).length === 2, 90_000).catch(async (err: unknown) => {
          throw new Error(`${(err as Error).message}\n${await diagnose()}`);
        });
        const idOf = async (name: string) => (await k('get', 'pod', name, '-o', 'jsonpath={.status.containerStatuses[0].containerID}')).trim().split('://')[1]!;
        const processContainers = readdirSync(join(server.dataDir, 'agent', 'runtime', 'containers'));
        assert.ok(processContainers.includes(await idOf('on-k8ts')), 'the k8ts pod is a process-runtime container');
        assert.ok(!processContainers.includes(await idOf('on-containerd')), 'the other pod is not');
        const ctr = execFileSync('ctr', ['--address', join(server.dataDir, 'agent', 'containerd', 'containerd.sock'), '-n', 'k8s.io', 'containers', 'ls', '-q'], { stdio: 'pipe' }).toString();
        assert.ok(ctr.includes(await idOf('on-containerd')), 'containerd runs the other pod');
        assert.ok(!ctr.includes(await idOf('on-k8ts')), 'containerd does not run the k8ts pod');
        // Both are on the one pod network, from one address pool.
        const ips = (await k('get', 'pods', 'on-k8ts', 'on-containerd', '-o', 'jsonpath={.items[*].status.podIP}')).trim().split(' ');
        assert.equal(new Set(ips).size, 2);
        for (const a of ips) assert.match(a, new RegExp(`^10\\.${r}\\.`));
        assert.equal((await k('exec', 'on-k8ts', '--', 'sh', '-c', 'echo from-k8ts')).trim(), 'from-k8ts');
        await k('delete', 'pod', 'on-k8ts', 'on-containerd', '--grace-period=1', '--wait=true', '--timeout=60s');
      });
    }
  });
}
