import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerStatus, Node, Pod } from 'kubernetes-types/core/v1.js';
import { containerIdForLogs, parseLogQuery, runtimeContainerId, subresourceForPath } from '../../../../src/kubelet/server/server.js';
import { kubeletEndpoint, podLogQuery, portForwardQuery, streamQuery, validateContainer } from '../../../../src/apiserver/proxy.js';
import { StatusError } from '../../../../src/apiserver/status.js';

const podWithStatus = (status: Partial<ContainerStatus> | undefined): Pod => ({
  metadata: { name: 'web' },
  spec: { containers: [{ name: 'app' }] },
  status: { containerStatuses: status ? [{ name: 'app', image: 'x', imageID: '', ready: false, restartCount: 0, ...status }] : [] },
});

describe('which container instance logs come from (validateContainerLogStatus)', () => {
  const cases: { name: string; status: Partial<ContainerStatus> | undefined; previous?: boolean; want: { id: string } | { error: string } }[] = [
    { name: 'a running container', status: { containerID: 'containerd://abc', state: { running: {} } }, want: { id: 'abc' } },
    { name: 'a terminated container', status: { containerID: 'k8ts://t1', state: { terminated: { exitCode: 0, containerID: 'k8ts://t1' } } }, want: { id: 't1' } },
    {
      name: 'a terminated container that never started falls back to the last one',
      status: { state: { terminated: { exitCode: 1 } }, lastState: { terminated: { exitCode: 1, containerID: 'k8ts://old' } } },
      want: { id: 'old' },
    },
    { name: 'previous needs a last terminated state', status: { containerID: 'k8ts://abc', state: { running: {} } }, previous: true, want: { error: 'previous terminated container "app" in pod "web" not found' } },
    { name: 'previous reads the last terminated one', status: { state: { running: {} }, lastState: { terminated: { exitCode: 2, containerID: 'k8ts://prev' } } }, previous: true, want: { id: 'prev' } },
    { name: 'waiting to start says why', status: { state: { waiting: { reason: 'ContainerCreating' } } }, want: { error: 'container "app" in pod "web" is waiting to start: ContainerCreating' } },
    { name: 'image pull failures have their own words', status: { state: { waiting: { reason: 'ImagePullBackOff' } } }, want: { error: 'container "app" in pod "web" is waiting to start: trying and failing to pull image' } },
    { name: 'no status at all', status: undefined, want: { error: 'container "app" in pod "web" is not available' } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(containerIdForLogs(podWithStatus(c.status), 'app', c.previous ?? false), c.want));

  it('strips the runtime scheme from container ids', () => {
    assert.equal(runtimeContainerId('containerd://abc'), 'abc');
    assert.equal(runtimeContainerId('abc'), 'abc');
    assert.equal(runtimeContainerId(''), undefined);
  });
});

describe('kubelet containerLogs query', () => {
  const now = Date.UTC(2026, 0, 1, 0, 1, 0);
  const cases: { name: string; q: string; want: ReturnType<typeof parseLogQuery> }[] = [
    { name: 'nothing set', q: '', want: { opts: {}, follow: false, previous: false } },
    { name: 'legacy tail=all is no limit', q: 'tail=all&follow=true', want: { opts: {}, follow: true, previous: false } },
    { name: 'legacy tail is tailLines', q: 'tail=5', want: { opts: { tailLines: 5 }, follow: false, previous: false } },
    { name: 'sinceSeconds is relative to now', q: 'sinceSeconds=60', want: { opts: { since: BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n }, follow: false, previous: false } },
    { name: 'stream Stderr', q: 'stream=Stderr&timestamps=true', want: { opts: { stream: 'stderr', timestamps: true }, follow: false, previous: false } },
    { name: 'a negative tail is invalid', q: 'tailLines=-1', want: { code: 422, error: '{"message": "Invalid request."}' } },
    { name: 'both since forms are invalid', q: 'sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z', want: { code: 422, error: '{"message": "Invalid request."}' } },
    { name: 'garbage is undecodable', q: 'limitBytes=lots', want: { code: 400, error: '{"message": "Unable to decode query."}' } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseLogQuery(new URLSearchParams(c.q), now), c.want));
});

describe('kubelet authorizer attributes', () => {
  for (const [path, want] of [
    ['/stats/summary', 'stats'],
    ['/metrics', 'metrics'],
    ['/metrics/resource', 'metrics'],
    ['/logs/', 'log'],
    ['/exec/ns/p/c', 'proxy'],
    ['/containerLogs/ns/p/c', 'proxy'],
    ['/statsx', 'proxy'],
  ] as const) {
    it(`${path} is nodes/${want}`, () => assert.equal(subresourceForPath(path), want));
  }
});

const twoContainers: Pod = { metadata: { name: 'two' }, spec: { containers: [{ name: 'a' }, { name: 'b' }], initContainers: [{ name: 'init' }] } };

describe('API server: container of a subresource request (ValidateContainer)', () => {
  const cases: { name: string; pod: Pod; container: string; want: string | RegExp }[] = [
    { name: 'the only container is the default', pod: podWithStatus(undefined), container: '', want: 'app' },
    { name: 'several containers need a name', pod: twoContainers, container: '', want: /^a container name must be specified for pod two, choose one of: \[a b\] or one of the init containers: \[init\]$/ },
    { name: 'an init container may be named', pod: twoContainers, container: 'init', want: 'init' },
    { name: 'an unknown container is refused', pod: twoContainers, container: 'c', want: /^container c is not valid for pod two$/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (typeof c.want === 'string') return assert.equal(validateContainer(c.container, c.pod), c.want);
      assert.throws(
        () => validateContainer(c.container, c.pod),
        (err: unknown) => err instanceof StatusError && err.code === 400 && (c.want as RegExp).test(err.message),
      );
    });
  }
});

describe('API server: PodLogOptions', () => {
  it('turns options into the kubelet query', () => {
    const { container, kubeletQuery } = podLogQuery('web', new URLSearchParams('container=app&follow=true&tailLines=10&timestamps=1&limitBytes=5&insecureSkipTLSVerifyBackend=true'));
    assert.equal(container, 'app');
    assert.equal(kubeletQuery.toString(), 'follow=true&timestamps=true&tailLines=10&limitBytes=5');
  });

  const invalid: { name: string; q: string; want: RegExp }[] = [
    { name: 'negative tailLines', q: 'tailLines=-1', want: /tailLines: Invalid value: -1: must be greater than or equal to 0/ },
    { name: 'zero limitBytes', q: 'limitBytes=0', want: /limitBytes: Invalid value: 0: must be greater than 0/ },
    { name: 'sinceSeconds with sinceTime', q: 'sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z', want: /at most one of `sinceTime` or `sinceSeconds` may be specified/ },
  ];
  for (const c of invalid) {
    it(`${c.name} is Invalid (422)`, () =>
      assert.throws(
        () => podLogQuery('web', new URLSearchParams(c.q)),
        (err: unknown) => err instanceof StatusError && err.code === 422 && c.want.test(err.message),
      ));
  }
});

describe('API server: kubelet location and streaming queries', () => {
  const node = (addresses: { type: string; address: string }[], port?: number): Node => ({ metadata: { name: 'n' }, status: { addresses, ...(port ? { daemonEndpoints: { kubeletEndpoint: { Port: port } } } : {}) } });

  it('prefers InternalIP, then ExternalIP, then Hostname; the port defaults to 10250', () => {
    assert.deepEqual(kubeletEndpoint(node([{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '10.0.0.1' }], 12345)), { host: '10.0.0.1', port: 12345 });
    assert.deepEqual(kubeletEndpoint(node([{ type: 'Hostname', address: 'n1' }])), { host: 'n1', port: 10250 });
    assert.throws(() => kubeletEndpoint(node([])), /no preferred addresses found/);
  });

  it('passes exec options as the kubelet reads them ("1") and commands in order', () => {
    assert.equal(streamQuery('exec', new URLSearchParams('container=app&stdin=true&stdout=true&tty=false&command=sh&command=-c&command=ls')).toString(), 'stdin=1&stdout=1&command=sh&command=-c&command=ls');
    assert.equal(streamQuery('attach', new URLSearchParams('stdout=1&command=ignored')).toString(), 'stdout=1');
  });

  it('turns port-forward ports into the kubelet port parameter', () => {
    assert.equal(portForwardQuery(new URLSearchParams('ports=80&ports=443')).toString(), 'port=80%2C443');
    assert.throws(() => portForwardQuery(new URLSearchParams('ports=99999')), /invalid port/);
  });
});
