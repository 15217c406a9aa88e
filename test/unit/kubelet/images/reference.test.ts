import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isImageId, normalizeReference, parseReference, ReferenceError, registryHost } from '../../../../src/kubelet/images/reference.js';
import { imageUser } from '../../../../src/kubelet/images/store.js';
import { basicCredentials, parseWwwAuthenticate, RegistryClient } from '../../../../src/kubelet/images/registry.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('image references', () => {
  const cases: [string, string, string][] = [
    ['a bare name is a Docker Hub library image with tag latest', 'busybox', 'docker.io/library/busybox:latest'],
    ['a tag is kept', 'busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['a user repository on Docker Hub gets no library/ prefix', 'bitnami/nginx', 'docker.io/bitnami/nginx:latest'],
    ['index.docker.io is Docker Hub', 'index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['a first component with a port is a registry', 'localhost:5000/team/app:v1', 'localhost:5000/team/app:v1'],
    ['localhost is a registry', 'localhost/lab/busybox', 'localhost/lab/busybox:latest'],
    ['a first component with a dot is a registry', 'registry.k8s.io/pause:3.10', 'registry.k8s.io/pause:3.10'],
    ['a digest-only reference gets no tag', `busybox@${D}`, `docker.io/library/busybox@${D}`],
    ['tag and digest are both kept', `127.0.0.1:5000/x:1@${D}`, `127.0.0.1:5000/x:1@${D}`],
    ['an IPv6 registry with a port', '[::1]:5000/x', '[::1]:5000/x:latest'],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => assert.equal(normalizeReference(input), want));
  }

  const bad: [string, string][] = [
    ['uppercase repository names are refused', 'docker.io/Library/Busybox'],
    ['an empty reference is refused', ''],
    ['a 64-hex id is not a repository name', 'a'.repeat(64)],
    ['a bad tag is refused', 'busybox:-x'],
    ['a bad digest is refused', 'busybox@sha256:zz'],
  ];
  for (const [name, input] of bad) {
    it(name, () => assert.throws(() => parseReference(input), ReferenceError));
  }

  it('Docker Hub is reached at registry-1.docker.io, other registries at their own host', () => {
    assert.deepEqual([registryHost('docker.io'), registryHost('127.0.0.1:5000')], ['registry-1.docker.io', '127.0.0.1:5000']);
  });

  it('recognises image ids with and without the sha256: prefix', () => {
    assert.deepEqual([isImageId(D), isImageId('a'.repeat(64)), isImageId('busybox'), isImageId('sha256:abc')], [true, true, false, false]);
  });
});

describe('image config User as CRI reports it', () => {
  const cases: [string, string | undefined, { uid?: number; username: string }][] = [
    ['no user means neither uid nor name', undefined, { username: '' }],
    ['a numeric user is a uid', '1000', { uid: 1000, username: '' }],
    ['the group part is ignored', '1000:1000', { uid: 1000, username: '' }],
    ['a name is a username', 'nobody', { username: 'nobody' }],
    ['a name with a group keeps only the name', 'www-data:www-data', { username: 'www-data' }],
  ];
  for (const [name, user, want] of cases) it(name, () => assert.deepEqual(imageUser(user), want));
});

describe('registry auth helpers', () => {
  it('parses a Bearer challenge whose scope holds commas and colons', () => {
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"'), {
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' },
    });
  });
  it('parses a Basic challenge', () => {
    assert.deepEqual(parseWwwAuthenticate('Basic realm="k8ts-test"'), { scheme: 'basic', params: { realm: 'k8ts-test' } });
  });
  it('takes credentials from username/password or from the base64 auth field', () => {
    assert.deepEqual(basicCredentials({ username: 'u', password: 'p' }), { username: 'u', password: 'p' });
    assert.deepEqual(basicCredentials({ auth: Buffer.from('u2:p:w').toString('base64') }), { username: 'u2', password: 'p:w' });
    assert.equal(basicCredentials({}), undefined);
  });
});

describe('which registries are reached over plain HTTP', () => {
  const client = new RegistryClient({ insecureRegistries: ['registry.lan:5000', 'plain.example'] });
  const cases: [string, string][] = [
    ['docker.io', 'https://registry-1.docker.io'],
    ['localhost:5000', 'http://localhost:5000'],
    ['127.0.0.1:39000', 'http://127.0.0.1:39000'],
    ['[::1]:5000', 'http://[::1]:5000'],
    ['registry.lan:5000', 'http://registry.lan:5000'],
    ['plain.example:8443', 'http://plain.example:8443'],
    ['ghcr.io', 'https://ghcr.io'],
  ];
  for (const [domain, want] of cases) it(`${domain} → ${want}`, () => assert.equal(client.baseUrl(domain), want));
});
