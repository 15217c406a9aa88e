// The real kubectl reading our protobuf /openapi/v2 document: kubectl 1.27 (which asks for
// /openapi/v2 in protobuf only, and fails explain when it cannot parse it) and the current kubectl's
// v2 renderer. Each test is skipped when its kubectl is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BUILTIN_RESOURCES } from '../../../src/api/catalog.js';
import { OPENAPI_V2_PROTOBUF_CONTENT_TYPE } from '../../../src/api/openapi/protobuf/index.js';
import { startProtobufServer, type ProtobufServer, type ProtobufServerOptions } from './protobufServer.js';

const run = promisify(execFile);

/** kubectl 1.27 ships beside gcloud (as kubectl.1.27); undefined when not installed. */
function kubectl127(): string | undefined {
  const gcloud = spawnSync('sh', ['-c', 'command -v gcloud'], { encoding: 'utf8' }).stdout.trim();
  if (!gcloud) return undefined;
  const candidate = join(dirname(realpathSync(gcloud)), 'kubectl.1.27');
  return spawnSync(candidate, ['version', '--client'], { stdio: 'ignore' }).status === 0 ? candidate : undefined;
}

const KUBECTL_1_27 = kubectl127();
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

/** Runs `binary explain <args>` against a fresh protobuf server; returns its output and what the server saw. */
async function explain(binary: string, args: readonly string[], options: ProtobufServerOptions = {}): Promise<{ stdout: string; server: ProtobufServer }> {
  const server = await startProtobufServer(BUILTIN_RESOURCES, options);
  const home = mkdtempSync(join(tmpdir(), 'k8ts-openapi-protobuf-'));
  try {
    const { stdout } = await run(binary, ['--server', server.url, 'explain', ...args], {
      env: { ...process.env, KUBECONFIG: '/dev/null', HOME: home },
      timeout: 60_000,
    });
    return { stdout, server };
  } finally {
    rmSync(home, { recursive: true, force: true });
    await server.close();
  }
}

/** The /openapi/v2 and /swagger-2.0.0.pb-v1 requests answered with protobuf. */
function protobufServed(server: ProtobufServer): string[] {
  return server.requests.filter((r) => r.status === 200 && r.served === OPENAPI_V2_PROTOBUF_CONTENT_TYPE).map((r) => r.path);
}

test('kubectl 1.27 explain renders Pod containers from our protobuf /openapi/v2', { skip: !KUBECTL_1_27 && 'kubectl.1.27 not installed' }, async () => {
  // Without /openapi/v3, kubectl 1.27 renders from the v2 document alone.
  const { stdout, server } = await explain(KUBECTL_1_27!, ['pod.spec.containers'], { openapiV3: false });
  assert.match(stdout, /KIND:\s+Pod/);
  assert.match(stdout, /RESOURCE:\s+containers <\[\]Object>/);
  assert.match(stdout, /List of containers belonging to the pod\./);
  assert.match(stdout, /imagePullPolicy\t<string>/);
  assert.match(stdout, /name\t<string> -required-/);
  assert.match(stdout, /ports\t<\[\]Object>/);
  const v2 = server.requests.filter((r) => r.path === '/openapi/v2');
  assert.ok(v2.length > 0 && v2.every((r) => r.accept === 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf'), 'kubectl asked for protobuf only');
  assert.deepEqual([...new Set(protobufServed(server))], ['/openapi/v2']);
});

test('kubectl 1.27 explain follows refs and GVKs in our protobuf document down to a Deployment container field', { skip: !KUBECTL_1_27 && 'kubectl.1.27 not installed' }, async () => {
  const { stdout } = await explain(KUBECTL_1_27!, ['deployment.spec.template.spec.containers.imagePullPolicy'], { openapiV3: false });
  assert.match(stdout, /KIND:\s+Deployment/);
  assert.match(stdout, /VERSION:\s+apps\/v1/);
  assert.match(stdout, /FIELD:\s+imagePullPolicy <string>/);
  assert.match(stdout, /Image pull policy\. One of Always, Never, IfNotPresent\./);
});

test('kubectl 1.27 explain parses our protobuf /openapi/v2 even when it renders from /openapi/v3', { skip: !KUBECTL_1_27 && 'kubectl.1.27 not installed' }, async () => {
  // kubectl 1.27 loads the v2 document first and fails explain when it cannot parse it.
  const { stdout, server } = await explain(KUBECTL_1_27!, ['pod.spec.containers']);
  assert.match(stdout, /FIELD: containers <\[\]Container>/);
  assert.ok(protobufServed(server).includes('/openapi/v2'));
});

test('kubectl 1.27 falls back to /swagger-2.0.0.pb-v1 when /openapi/v2 answers 406', { skip: !KUBECTL_1_27 && 'kubectl.1.27 not installed' }, async () => {
  const { stdout, server } = await explain(KUBECTL_1_27!, ['deployment.spec.template.spec.containers.imagePullPolicy'], { openapiV3: false, refuseOpenapiV2: true });
  assert.match(stdout, /FIELD:\s+imagePullPolicy <string>/);
  assert.ok(server.requests.some((r) => r.path === '/openapi/v2' && r.status === 406));
  assert.deepEqual([...new Set(protobufServed(server))], ['/swagger-2.0.0.pb-v1']);
});

test('kubectl explain --output=plaintext-openapiv2 renders Pod from our protobuf /openapi/v2', { skip: !hasKubectl && 'kubectl not installed' }, async () => {
  const { stdout, server } = await explain('kubectl', ['pod', '--output=plaintext-openapiv2']);
  assert.match(stdout, /KIND:\s+Pod/);
  assert.match(stdout, /Pod is a collection of containers that can run on a host\./);
  assert.match(stdout, /spec\t<Object>/);
  assert.match(stdout, /status\t<Object>/);
  assert.ok(protobufServed(server).includes('/openapi/v2'));
});
