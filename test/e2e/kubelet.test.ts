// The tutorial's story on one k8ts server with its own node, for real: an offline-built image is
// imported, a Deployment's pods run as containers (process runtime and containerd), and kubectl
// logs/exec/cp/port-forward, pod IPs, replacement, crash loops, liveness restarts, OOM kills and
// static pods behave as upstream.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startK8tsServer, type RunningServer } from '../support/k8tsServer.js';
import { buildBusyboxImage, freePort } from '../support/images.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/waitFor.js';

const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));
const IMAGE = 'localhost/e2e/busybox:1';
const isRoot = process.getuid?.() === 0;
const has = (bin: string) => (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, bin)));

const runtimes = [
  { name: 'process', ok: isRoot && has('runc') && existsSync('/usr/lib/cni/bridge') },
  { name: 'containerd', ok: isRoot && has('containerd') && has('runc') && existsSync('/usr/lib/cni/bridge') },
];

for (const rt of runtimes) {
  describe(`kubelet end to end with the ${rt.name} runtime`, { skip: rt.ok ? false : `needs root, runc, CNI plugins${rt.name === 'containerd' ? ' and containerd' : ''}` }, () => {
    let server: RunningServer;
    const work = tempDir('k8ts-e2e-img-');
    const rand = Math.floor(Math.random() * 200) + 20;
    const k = async (...args: string[]) => {
      const r = await server.kubectl(args, { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    const apply = (yaml: string) => server.kubectl(['apply', '-f', '-'], { input: yaml });

    before(async () => {
      await buildBusyboxImage(work.path, IMAGE);
      server = await startK8tsServer(
        ['--runtime', rt.name, '--kubelet-port', '0', '--cluster-cidr', `10.${rand}.0.0/16`, '--cni-bridge', `k8ts-t${rand}${rt.name[0]}`, '--node-name', `e2e-${rt.name}`],
        { agent: true, readyTimeoutMs: 60_000 },
      );
      await waitFor('the node to be Ready', async () => (await k('get', 'nodes', '--no-headers')).includes(' Ready '), 60_000);
      execFileSync(BIN, ['images', 'import', '--data-dir', server.dataDir, join(work.path, 'docker.tar')], { stdio: 'pipe' });
    });

    after(async () => {
      // Containers outlive their kubelet (as with containerd's shims): remove every pod first.
      await server?.kubectl(['delete', 'deployment,pods', '--all', '--grace-period=1', '--wait=true'], { timeoutMs: 90_000 }).catch(() => undefined);
      if (server) execFileSync(BIN, ['killall', '--data-dir', server.dataDir, '--cni-bridge', `k8ts-t${rand}${rt.name[0]}`], { stdio: 'pipe' });
      await server?.stop();
      work.remove();
    });

    it('shows the node Ready with its runtime, OS image and kubelet version (kubectl get nodes -o wide)', async () => {
      const out = await k('get', 'nodes', '-o', 'wide');
      assert.match(out, /NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP\s+EXTERNAL-IP\s+OS-IMAGE\s+KERNEL-VERSION\s+CONTAINER-RUNTIME/);
      assert.match(out, new RegExp(`e2e-${rt.name}\\s+Ready\\s+control-plane\\s+\\S+\\s+v1\\.32\\.0\\+k8ts`));
      assert.match(out, rt.name === 'process' ? /k8ts-process:\/\// : /containerd:\/\/1\./);
      const lease = JSON.parse(await k('get', 'lease', '-n', 'kube-node-lease', `e2e-${rt.name}`, '-o', 'json'));
      assert.equal(lease.spec.holderIdentity, `e2e-${rt.name}`);
    });

    it('runs a 3-replica Deployment to Running and Ready; logs, exec, cp, pod IP and port-forward work', async () => {
      const r = await apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: ${IMAGE}
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "echo started-$(hostname); exec httpd -f -p 8080 -h /etc"]
        readinessProbe: {httpGet: {path: /hostname, port: 8080}, periodSeconds: 1}
`);
      assert.equal(r.code, 0, r.stderr);
      await waitFor('3 pods 1/1 Running', async () => ((await k('get', 'pods', '-l', 'app=web', '--no-headers')).match(/1\/1\s+Running/g) ?? []).length === 3, 90_000);
      const pod = (await k('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}')).trim();
      assert.match(await k('logs', pod), new RegExp(`started-${pod}`));
      assert.equal((await k('exec', pod, '--', 'cat', '/etc/hostname')).trim(), pod);
      const failing = await server.kubectl(['exec', pod, '--', 'sh', '-c', 'exit 3']);
      assert.equal(failing.code, 3);
      const ip = (await k('get', 'pod', pod, '-o', 'jsonpath={.status.podIP}')).trim();
      assert.match(ip, new RegExp(`^10\\.${rand}\\.`));
      assert.equal((await (await fetch(`http://${ip}:8080/hostname`)).text()).trim(), pod);
      // kubectl cp (tar through exec) in both directions.
      const local = join(work.path, 'copied.txt');
      writeFileSync(local, 'hello from the host\n');
      await k('cp', local, `${pod}:/tmp/copied.txt`);
      assert.equal((await k('exec', pod, '--', 'cat', '/tmp/copied.txt')).trim(), 'hello from the host');
      await k('cp', `${pod}:/tmp/copied.txt`, join(work.path, 'back.txt'));
      assert.equal(readFileSync(join(work.path, 'back.txt'), 'utf8').trim(), 'hello from the host');
      // port-forward
      const port = await freePort();
      const pf = spawn('kubectl', ['--kubeconfig', server.kubeconfig, 'port-forward', `pod/${pod}`, `${port}:8080`], { stdio: 'pipe' });
      try {
        const body = await waitFor('port-forward to answer', async () => {
          try {
            return (await (await fetch(`http://127.0.0.1:${port}/hostname`)).text()).trim();
          } catch {
            return undefined;
          }
        });
        assert.equal(body, pod);
      } finally {
        pf.kill();
      }
    });

    it('replaces a deleted pod with a Running one', async () => {
      const pod = (await k('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}')).trim();
      await k('delete', 'pod', pod, '--wait=false');
      await waitFor('3 other pods Running', async () => {
        const lines = (await k('get', 'pods', '-l', 'app=web', '--no-headers')).split('\n').filter((l) => l && !l.startsWith(pod));
        return lines.filter((l) => /1\/1\s+Running/.test(l)).length === 3;
      }, 60_000);
      await waitFor('the deleted pod to be gone', async () => !(await k('get', 'pods', '--no-headers')).includes(pod), 60_000);
    });

    it('restarts a container whose process was killed on the node (RESTARTS 1)', async () => {
      const marker = `${3000 + rand}${rt.name.length}`;
      await k('run', 'victim', `--image=${IMAGE}`, '--image-pull-policy=IfNotPresent', '--', 'sleep', marker);
      await waitFor('the victim Running', async () => /1\/1\s+Running\s+0 /.test(await k('get', 'pod', 'victim', '--no-headers')), 60_000);
      // The container's process, as the node sees it.
      execFileSync('pkill', ['-9', '-x', '-f', `sleep ${marker}`]);
      await waitFor('restartCount 1 and Running again', async () => /1\/1\s+Running\s+1 /.test(await k('get', 'pod', 'victim', '--no-headers')), 60_000);
      const st = JSON.parse(await k('get', 'pod', 'victim', '-o', 'json')).status.containerStatuses[0];
      assert.equal(st.lastState.terminated.exitCode, 137);
      await k('delete', 'pod', 'victim', '--grace-period=1', '--wait=false');
    });

    it('shows CrashLoopBackOff for a crashing container, with growing back-off', async () => {
      await k('run', 'crasher', `--image=${IMAGE}`, '--image-pull-policy=IfNotPresent', '--restart=Always', '--', 'sh', '-c', 'echo bye; exit 3');
      await waitFor('CrashLoopBackOff', async () => (await k('get', 'pod', 'crasher', '--no-headers')).includes('CrashLoopBackOff'), 60_000);
      const st = JSON.parse(await k('get', 'pod', 'crasher', '-o', 'json')).status.containerStatuses[0];
      assert.equal(st.lastState.terminated.exitCode, 3);
      assert.equal(st.lastState.terminated.reason, 'Error');
      assert.match(st.state.waiting.message, /^back-off (10|20|40)s restarting failed container=crasher pod=crasher_default\(/);
      assert.match(await k('logs', 'crasher', '--previous'), /bye/);
      const events = await k('get', 'events', '--field-selector', 'involvedObject.name=crasher,reason=BackOff', '-o', 'jsonpath={.items[*].message}');
      assert.match(events, /Back-off restarting failed container crasher in pod crasher_default/);
      await k('delete', 'pod', 'crasher', '--grace-period=1', '--wait=false');
    });

    it('restarts a container whose liveness probe fails, with Unhealthy and Killing events', async () => {
      await apply(`apiVersion: v1
kind: Pod
metadata: {name: sick}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: ${IMAGE}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 600"]
    livenessProbe: {exec: {command: ["cat", "/tmp/healthy"]}, periodSeconds: 1, failureThreshold: 2}
`);
      await waitFor('a liveness restart', async () => JSON.parse(await k('get', 'pod', 'sick', '-o', 'json')).status.containerStatuses?.[0]?.restartCount >= 1, 60_000);
      const events = await k('get', 'events', '--field-selector', 'involvedObject.name=sick', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}');
      assert.match(events, /Unhealthy: Liveness probe failed: cat: can't open '\/tmp\/healthy': No such file or directory/);
      assert.match(events, /Killing: Container app failed liveness probe, will be restarted/);
      await k('delete', 'pod', 'sick', '--grace-period=1', '--wait=false');
    });

    it('OOM-kills a memory hog over its 64 MiB limit and reports OOMKilled', async () => {
      await apply(`apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: ${IMAGE}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "x=a; while true; do x=$x$x$x$x; done"]
    resources: {limits: {memory: 64Mi}}
`);
      const st = await waitFor('the hog to be killed', async () => {
        const s = JSON.parse(await k('get', 'pod', 'hog', '-o', 'json')).status;
        return s.containerStatuses?.[0]?.state?.terminated ? s : undefined;
      }, 90_000);
      assert.equal(st.containerStatuses[0].state.terminated.reason, 'OOMKilled');
      assert.equal(st.containerStatuses[0].state.terminated.exitCode, 137);
      assert.equal(st.phase, 'Failed');
      await k('delete', 'pod', 'hog', '--wait=false');
    });

    it('runs a static pod from the manifest directory and mirrors it into the API', async () => {
      const dir = join(server.dataDir, 'agent', 'pod-manifests');
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'static-web.yaml'),
        `apiVersion: v1\nkind: Pod\nmetadata: {name: static-web, namespace: kube-system, labels: {component: static-web}}\nspec:\n  containers:\n  - {name: web, image: ${IMAGE}, imagePullPolicy: IfNotPresent, command: ["sleep", "600"]}\n`,
      );
      const name = `static-web-e2e-${rt.name}`;
      await waitFor('the mirror pod Running', async () => /1\/1\s+Running/.test((await server.kubectl(['get', 'pod', '-n', 'kube-system', name, '--no-headers'])).stdout), 60_000);
      const mirror = JSON.parse(await k('get', 'pod', '-n', 'kube-system', name, '-o', 'json'));
      assert.ok(mirror.metadata.annotations['kubernetes.io/config.mirror']);
      assert.equal(mirror.metadata.ownerReferences[0].kind, 'Node');
      // Deleting the mirror pod does not stop the static pod: the kubelet recreates the mirror.
      await k('delete', 'pod', '-n', 'kube-system', name, '--wait=false');
      await waitFor('a new mirror pod', async () => {
        const p = JSON.parse((await server.kubectl(['get', 'pod', '-n', 'kube-system', name, '-o', 'json'])).stdout || '{}');
        return p.metadata?.uid && p.metadata.uid !== mirror.metadata.uid && !p.metadata.deletionTimestamp;
      }, 60_000);
      // Removing the manifest removes the pod.
      execFileSync('rm', [join(dir, 'static-web.yaml')]);
      await waitFor('the mirror pod gone', async () => (await server.kubectl(['get', 'pod', '-n', 'kube-system', name])).code !== 0, 60_000);
    });
  });
}
