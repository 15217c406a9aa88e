// --pod-max-pids for real: a k8ts server with its own node (process runtime, then containerd) in a
// network namespace of its own; a pod that tries to start 200 processes under a 50-process limit
// gets no more than 50 (its forks fail, counted in pids.events), while the kubelet keeps serving
// another pod. The pod cgroup is /sys/fs/cgroup/pids/kubepods/besteffort/pod<uid> (cgroup v1 here).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startK8tsServer, type RunningServer } from '../../../support/k8tsServer.js';
import { buildBusyboxImage } from '../../../support/images.js';
import { tempDir } from '../../../support/tmp.js';
import { waitFor } from '../../../support/waitFor.js';

const BIN = fileURLToPath(new URL('../../../../../bin/k8ts', import.meta.url));
const IMAGE = 'localhost/pids/busybox:1';
const LIMIT = 50;
const isRoot = process.getuid?.() === 0;
const has = (bin: string) => (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, bin)));
const pidsV1 = existsSync('/sys/fs/cgroup/pids/cgroup.procs');

/** `max N` of pids.events summed over the cgroup and its children. */
function eventsMax(dir: string): number {
  const own = Number(/^max (\d+)$/m.exec(readFileSync(join(dir, 'pids.events'), 'utf8'))?.[1] ?? 0);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .reduce((sum, e) => sum + eventsMax(join(dir, e.name)), own);
}

const runtimes = [
  { name: 'process', ok: isRoot && pidsV1 && has('runc') },
  { name: 'containerd', ok: isRoot && pidsV1 && has('runc') && has('containerd') },
];

// Every process forks in a subshell; when the cgroup is full the subshell's fork fails and it stops.
// The main shell then only execs (no fork), so it survives to be looked at.
const forker = (name: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  hostNetwork: true
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: forker
    image: ${IMAGE}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "(for i in $(seq 200); do sleep 1000 & done) 2>/dev/null; echo forked; exec sleep 1000"]
`;

const quiet = (name: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ${IMAGE}
    imagePullPolicy: IfNotPresent
    command: ["sleep", "1000"]
`;

for (const rt of runtimes) {
  describe(`--pod-max-pids ${LIMIT} with the ${rt.name} runtime`, { skip: rt.ok ? false : 'needs root, the cgroup v1 pids controller, runc (and containerd)', timeout: 300_000 }, () => {
    const netns = `k8ts-pids-${rt.name[0]}${process.pid % 10000}`;
    const work = tempDir('k8ts-pids-img-');
    let server: RunningServer;
    const k = async (...args: string[]) => {
      const r = await server.kubectl(args, { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    const podCgroup = async (name: string) => {
      const uid = (await k('get', 'pod', name, '-o', 'jsonpath={.metadata.uid}')).trim();
      return `/sys/fs/cgroup/pids/kubepods/besteffort/pod${uid}`;
    };

    before(async () => {
      execFileSync('ip', ['netns', 'add', netns]);
      execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      await buildBusyboxImage(work.path, IMAGE);
      server = await startK8tsServer(
        ['--runtime', rt.name, '--kubelet-port', '0', '--node-name', `pids-${rt.name}`, '--node-ip', '127.0.0.1', '--advertise-address', '127.0.0.1', '--cni-bridge', `k8tspids${rt.name[0]}`, '--pod-max-pids', String(LIMIT)],
        { agent: true, netns, readyTimeoutMs: 90_000 },
      );
      await waitFor('the node to be Ready', async () => (await k('get', 'nodes', '--no-headers')).includes(' Ready '), 90_000);
      execFileSync(BIN, ['images', 'import', '--data-dir', server.dataDir, join(work.path, 'docker.tar')], { stdio: 'pipe' });
    });

    after(async () => {
      await server?.kubectl(['delete', 'pods', '--all', '--grace-period=1', '--wait=true'], { timeoutMs: 90_000 }).catch(() => undefined);
      if (server) {
        try {
          execFileSync('nsenter', [`--net=/var/run/netns/${netns}`, process.execPath, BIN, 'killall', '--data-dir', server.dataDir, '--cni-bridge', `k8tspids${rt.name[0]}`], { stdio: 'pipe' });
        } catch {
          // nothing left
        }
      }
      await server?.stop();
      try {
        execFileSync('ip', ['netns', 'delete', netns]);
      } catch {
        // already gone
      }
      work.remove();
    });

    it(`a pod that starts 200 processes gets at most ${LIMIT}: its forks fail and are counted in pids.events`, async () => {
      const r = await server.kubectl(['apply', '-f', '-'], { input: forker('forker') });
      assert.equal(r.code, 0, r.stderr);
      await waitFor('the forker to be Running', async () => (await k('get', 'pod', 'forker', '-o', 'jsonpath={.status.phase}')) === 'Running', 90_000);
      const dir = await podCgroup('forker');
      assert.equal(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), String(LIMIT));
      // The fork loop hits the limit quickly; wait until the kernel has refused forks (this kernel
      // counts a refusal in pids.events of the cgroup that forked: the container's, below the pod's).
      const refused = await waitFor('forks refused by the pids controller', async () => {
        const n = eventsMax(dir);
        return n > 0 ? n : undefined;
      }, 60_000);
      assert.ok(refused > 0);
      const current = Number(readFileSync(join(dir, 'pids.current'), 'utf8').trim());
      assert.ok(current <= LIMIT, `pids.current ${current} > ${LIMIT}`);
      assert.ok(current >= LIMIT - 5, `the loop should have filled the pod's quota, pids.current is ${current}`);
      if (existsSync(join(dir, 'pids.peak'))) assert.ok(Number(readFileSync(join(dir, 'pids.peak'), 'utf8')) <= LIMIT);
      await waitFor('the forker to log "forked"', async () => (await k('logs', 'forker')).includes('forked'), 30_000);
      assert.equal(await k('get', 'pod', 'forker', '-o', 'jsonpath={.status.phase}'), 'Running');
    });

    it('the kubelet and other pods are unaffected: a second pod runs and execs', async () => {
      const r = await server.kubectl(['apply', '-f', '-'], { input: quiet('bystander') });
      assert.equal(r.code, 0, r.stderr);
      await waitFor('the bystander to be Running', async () => (await k('get', 'pod', 'bystander', '-o', 'jsonpath={.status.phase}')) === 'Running', 90_000);
      assert.equal((await k('exec', 'bystander', '--', 'echo', 'hi')).trim(), 'hi');
      const dir = await podCgroup('bystander');
      assert.equal(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), String(LIMIT));
      assert.ok(Number(readFileSync(join(dir, 'pids.current'), 'utf8').trim()) < 10);
      assert.match(await k('get', 'node', `pids-${rt.name}`, '--no-headers'), /\sReady\s/);
      const pidCond = JSON.parse(await k('get', 'node', `pids-${rt.name}`, '-o', 'jsonpath={.status.conditions[?(@.type=="PIDPressure")]}'));
      assert.equal(pidCond.status, 'False');
      assert.equal(pidCond.reason, 'KubeletHasSufficientPID');
    });

    it('deleting the pods removes their pod cgroups', async () => {
      const dirs = [await podCgroup('forker'), await podCgroup('bystander')];
      await k('delete', 'pod', 'forker', 'bystander', '--grace-period=1', '--wait=true');
      await waitFor('the pod cgroups to be removed', async () => dirs.every((d) => !existsSync(d)), 60_000);
    });
  });
}
