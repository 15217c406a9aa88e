import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_RESOURCES } from '../../../src/api/catalog.js';
import { openapiV2, openapiV3 } from '../../../src/api/openapi/index.js';

type Op = {
  operationId: string;
  'x-kubernetes-action'?: string;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string };
  parameters?: ({ name?: string; $ref?: string } | undefined)[];
  consumes?: string[];
};
type Doc = { paths: Record<string, Record<string, Op>>; parameters: Record<string, { name: string }> };

const doc = openapiV2(BUILTIN_RESOURCES) as Doc;

// [path, method, operationId, action, GVK group/version/kind], as upstream 1.32 publishes them.
const cases: [string, string, string, string, string][] = [
  ['/apis/apps/v1/namespaces/{namespace}/deployments/{name}', 'get', 'readAppsV1NamespacedDeployment', 'get', 'apps/v1/Deployment'],
  ['/apis/apps/v1/namespaces/{namespace}/deployments/{name}', 'patch', 'patchAppsV1NamespacedDeployment', 'patch', 'apps/v1/Deployment'],
  ['/apis/apps/v1/namespaces/{namespace}/deployments', 'delete', 'deleteAppsV1CollectionNamespacedDeployment', 'deletecollection', 'apps/v1/Deployment'],
  ['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale', 'put', 'replaceAppsV1NamespacedDeploymentScale', 'put', 'autoscaling/v1/Scale'],
  ['/apis/apps/v1/deployments', 'get', 'listAppsV1DeploymentForAllNamespaces', 'list', 'apps/v1/Deployment'],
  ['/api/v1/pods', 'get', 'listCoreV1PodForAllNamespaces', 'list', '/v1/Pod'],
  ['/api/v1/namespaces/{namespace}/pods', 'post', 'createCoreV1NamespacedPod', 'post', '/v1/Pod'],
  ['/api/v1/namespaces/{namespace}/pods/{name}/status', 'patch', 'patchCoreV1NamespacedPodStatus', 'patch', '/v1/Pod'],
  ['/api/v1/namespaces/{namespace}/pods/{name}/exec', 'post', 'connectCoreV1PostNamespacedPodExec', 'connect', '/v1/PodExecOptions'],
  ['/api/v1/namespaces/{namespace}/pods/{name}/log', 'get', 'readCoreV1NamespacedPodLog', 'get', '/v1/Pod'],
  ['/api/v1/namespaces/{namespace}/pods/{name}/eviction', 'post', 'createCoreV1NamespacedPodEviction', 'post', 'policy/v1/Eviction'],
  ['/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token', 'post', 'createCoreV1NamespacedServiceAccountToken', 'post', 'authentication.k8s.io/v1/TokenRequest'],
  ['/api/v1/nodes/{name}/proxy/{path}', 'get', 'connectCoreV1GetNodeProxyWithPath', 'connect', '/v1/NodeProxyOptions'],
  ['/api/v1/namespaces/{name}/finalize', 'put', 'replaceCoreV1NamespaceFinalize', 'put', '/v1/Namespace'],
  ['/api/v1/watch/namespaces/{namespace}/pods', 'get', 'watchCoreV1NamespacedPodList', 'watchlist', '/v1/Pod'],
  ['/api/v1/watch/nodes/{name}', 'get', 'watchCoreV1Node', 'watch', '/v1/Node'],
  ['/apis/rbac.authorization.k8s.io/v1/clusterroles', 'get', 'listRbacAuthorizationV1ClusterRole', 'list', 'rbac.authorization.k8s.io/v1/ClusterRole'],
  ['/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/{name}/status', 'get', 'readFlowcontrolApiserverV1FlowSchemaStatus', 'get', 'flowcontrol.apiserver.k8s.io/v1/FlowSchema'],
  ['/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews', 'post', 'createAuthorizationV1NamespacedLocalSubjectAccessReview', 'post', 'authorization.k8s.io/v1/LocalSubjectAccessReview'],
  ['/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval', 'patch', 'patchCertificatesV1CertificateSigningRequestApproval', 'patch', 'certificates.k8s.io/v1/CertificateSigningRequest'],
];

test('paths carry upstream operationIds, actions and GVKs', () => {
  for (const [path, method, operationId, action, gvk] of cases) {
    const op = doc.paths[path]?.[method];
    assert.ok(op, `${method.toUpperCase()} ${path} exists`);
    assert.equal(op.operationId, operationId, path);
    assert.equal(op['x-kubernetes-action'], action, operationId);
    const g = op['x-kubernetes-group-version-kind'];
    assert.equal(g && `${g.group}/${g.version}/${g.kind}`, gvk, operationId);
  }
});

test('operationIds are unique', () => {
  const seen = new Set<string>();
  for (const item of Object.values(doc.paths)) {
    for (const [k, op] of Object.entries(item)) {
      if (k === 'parameters') continue;
      assert.ok(!seen.has(op.operationId), op.operationId);
      seen.add(op.operationId);
    }
  }
});

test('every PATCH takes fieldValidation and the strategic merge content type (kubectl checks both)', () => {
  const paramName = (p: { name?: string; $ref?: string } | undefined) => p?.name ?? doc.parameters[p?.$ref?.slice('#/parameters/'.length) ?? '']?.name;
  for (const [path, item] of Object.entries(doc.paths)) {
    const op = item['patch'];
    if (!op || op['x-kubernetes-action'] !== 'patch') continue;
    assert.ok((op.parameters ?? []).some((p) => paramName(p) === 'fieldValidation'), path);
    assert.ok(op.consumes?.includes('application/strategic-merge-patch+json'), path);
  }
  const v3 = openapiV3('apis/apps/v1', BUILTIN_RESOURCES) as {
    paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, unknown> } }>>;
  };
  const patch = v3.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}']?.['patch'];
  assert.ok(patch?.parameters?.some((p) => p.name === 'fieldValidation' && p.in === 'query'));
  assert.ok(patch?.requestBody?.content['application/strategic-merge-patch+json']);
});

test('create-only and read-only resources publish only their verbs', () => {
  assert.deepEqual(Object.keys(doc.paths['/apis/authentication.k8s.io/v1/tokenreviews'] ?? {}).filter((k) => k !== 'parameters'), ['post']);
  assert.equal(doc.paths['/apis/authentication.k8s.io/v1/tokenreviews/{name}'], undefined);
  assert.deepEqual(Object.keys(doc.paths['/api/v1/componentstatuses/{name}'] ?? {}).filter((k) => k !== 'parameters'), ['get']);
});
