import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeKubernetesProtobuf } from '../../../src/api/protobuf/decode.js';
import { RECORDED_CREATES } from './kubectlBodies.js';

const decode = (base64: string) => decodeKubernetesProtobuf(Buffer.from(base64, 'base64'));

test('every body `kubectl create` sends decodes to the JSON kubectl builds for it', () => {
  for (const c of RECORDED_CREATES) {
    const want = JSON.parse(c.want) as Record<string, unknown>;
    // Go writes a nil non-omitempty slice as null; on the wire it is absent, and we leave it out.
    if (c.name === 'clusterroleAggregation') delete want['rules'];
    const got = decode(c.body);
    assert.deepEqual(got.object, want, c.command);
    assert.equal(JSON.stringify(got.object), JSON.stringify(want), `${c.command}: same key order`);
    assert.equal(got.kind, want['kind'], c.command);
    assert.equal(got.apiVersion, want['apiVersion'], c.command);
  }
});

test('the exact bytes of `kubectl create namespace x`', () => {
  const body = Buffer.from(
    '6b3873000a0f0a0276311209' + '4e616d657370616365' + '12190a110a0178120' + '01a00220' + '02a003200380042001200' + '1a020a00' + '1a002200',
    'hex',
  );
  assert.deepEqual(decodeKubernetesProtobuf(body), {
    apiVersion: 'v1',
    kind: 'Namespace',
    object: { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'x', creationTimestamp: null }, spec: {}, status: {} },
  });
});

/** Bodies recorded from kubectl v1.32.4 commands that are not `create`, with the JSON Go would write. */
const RECORDED_OTHERS: [command: string, body: string, want: Record<string, unknown>][] = [
  [
    'kubectl create token sa --audience=https://example.com --duration=10m --bound-object-kind=Pod --bound-object-name=p1 --bound-object-uid=pu1',
    'azhzAAooChhhdXRoZW50aWNhdGlvbi5rOHMuaW8vdjESDFRva2VuUmVxdWVzdBJGChAKABIAGgAiACoAMgA4AEIAEiwKE2h0dHBzOi8vZXhhbXBsZS5jb20aEgoDUG9kEgJ2MRoCcDEiA3B1MSDYBBoECgASABoAIgA=',
    {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { audiences: ['https://example.com'], expirationSeconds: 600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p1', uid: 'pu1' } },
      status: { token: '', expirationTimestamp: null },
    },
  ],
  [
    'kubectl auth whoami',
    'azhzAAotChhhdXRoZW50aWNhdGlvbi5rOHMuaW8vdjESEVNlbGZTdWJqZWN0UmV2aWV3EhoKEAoAEgAaACIAKgAyADgAQgASBgoECgASABoAIgA=',
    { kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, status: { userInfo: {} } },
  ],
  [
    'kubectl auth can-i get pods -n kube-system',
    'azhzAAoyChdhdXRob3JpemF0aW9uLms4cy5pby92MRIXU2VsZlN1YmplY3RBY2Nlc3NSZXZpZXcSQAoQCgASABoAIgAqADIAOABCABIiCiAKC2t1YmUtc3lzdGVtEgNnZXQaACIAKgRwb2RzMgA6ABoICAASABoAIAAaACIA',
    {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { resourceAttributes: { namespace: 'kube-system', verb: 'get', resource: 'pods' } },
      status: { allowed: false },
    },
  ],
  [
    'kubectl auth can-i create deployments.apps --subresource=scale',
    'azhzAAoyChdhdXRob3JpemF0aW9uLms4cy5pby92MRIXU2VsZlN1YmplY3RBY2Nlc3NSZXZpZXcSTwoQCgASABoAIgAqADIAOABCABIxCi8KB2RlZmF1bHQSBmNyZWF0ZRoEYXBwcyIAKgtkZXBsb3ltZW50czIFc2NhbGU6ABoICAASABoAIAAaACIA',
    {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { resourceAttributes: { namespace: 'default', verb: 'create', group: 'apps', resource: 'deployments', subresource: 'scale' } },
      status: { allowed: false },
    },
  ],
  [
    'kubectl auth can-i --list -n default',
    'azhzAAoxChdhdXRob3JpemF0aW9uLms4cy5pby92MRIWU2VsZlN1YmplY3RSdWxlc1JldmlldxIjChAKABIAGgAiACoAMgA4AEIAEgkKB2RlZmF1bHQaBBgAIgAaACIA',
    // Go would also write "resourceRules": null and "nonResourceRules": null (nil slices, absent on the wire).
    { kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec: { namespace: 'default' }, status: { incomplete: false } },
  ],
  [
    'kubectl certificate approve csr1 (PUT …/csr1/approval)',
    'azhzAAozChZjZXJ0aWZpY2F0ZXMuazhzLmlvL3YxEhlDZXJ0aWZpY2F0ZVNpZ25pbmdSZXF1ZXN0EoACCiAKBGNzcjESABoAIgAqA3UtMTIBNzgAQggIpfrNrAYQABJ1CgVoZWxsbxIFYWxpY2UaACIUc3lzdGVtOmF1dGhlbnRpY2F0ZWQqC2NsaWVudCBhdXRoMhgKDnNjb3Blcy5leGFtcGxlEgYKAWEKAWI6I2t1YmVybmV0ZXMuaW8va3ViZS1hcGlzZXJ2ZXItY2xpZW50QJAcGmUKYwoIQXBwcm92ZWQSDkt1YmVjdGxBcHByb3ZlGjVUaGlzIENTUiB3YXMgYXBwcm92ZWQgYnkga3ViZWN0bCBjZXJ0aWZpY2F0ZSBhcHByb3ZlLiIICMD6m9gGEAAqADIEVHJ1ZRoAIgA=',
    {
      kind: 'CertificateSigningRequest',
      apiVersion: 'certificates.k8s.io/v1',
      metadata: { name: 'csr1', uid: 'u-1', resourceVersion: '7', creationTimestamp: '2024-01-02T03:04:05Z' },
      spec: {
        request: 'aGVsbG8=',
        signerName: 'kubernetes.io/kube-apiserver-client',
        expirationSeconds: 3600,
        usages: ['client auth'],
        username: 'alice',
        groups: ['system:authenticated'],
        extra: { 'scopes.example': ['a', 'b'] },
      },
      status: {
        conditions: [
          {
            type: 'Approved',
            status: 'True',
            reason: 'KubectlApprove',
            message: 'This CSR was approved by kubectl certificate approve.',
            lastUpdateTime: '2026-11-25T15:22:40Z',
            lastTransitionTime: null,
          },
        ],
      },
    },
  ],
];

test('bodies of token, whoami, can-i and certificate approve decode', () => {
  for (const [command, body, want] of RECORDED_OTHERS) {
    const got = decode(body).object;
    assert.deepEqual(got, want, command);
    assert.equal(JSON.stringify(got), JSON.stringify(want), `${command}: same key order`);
  }
});
