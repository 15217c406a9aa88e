// Request bodies recorded from kubectl v1.32.4 (`kubectl create …` against a recording HTTPS server),
// each with the JSON `kubectl … --dry-run=client -o json` prints for the same command: the object
// kubectl built, as Go's encoding/json writes it. `want` is JSON text so a `__proto__` key stays a key.

export interface RecordedCreate {
  name: string;
  command: string;
  /** The protobuf request body, base64. */
  body: string;
  /** JSON text. */
  want: string;
}

export const RECORDED_CREATES: readonly RecordedCreate[] = [
  {
    name: "namespace",
    command: "kubectl create namespace x",
    body: "azhzAAoPCgJ2MRIJTmFtZXNwYWNlEhkKEQoBeBIAGgAiACoAMgA4AEIAEgAaAgoAGgAiAA==",
    want: "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"x\",\"creationTimestamp\":null},\"spec\":{},\"status\":{}}",
  },
  {
    name: "configmap",
    command: "kubectl create configmap cm --from-literal=a=b --from-literal=c=d --from-literal=__proto__=p",
    body: "azhzAAoPCgJ2MRIJQ29uZmlnTWFwEjQKEgoCY20SABoAIgAqADIAOABCABIOCglfX3Byb3RvX18SAXASBgoBYRIBYhIGCgFjEgFkGgAiAA==",
    want: "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"cm\",\"creationTimestamp\":null},\"data\":{\"__proto__\":\"p\",\"a\":\"b\",\"c\":\"d\"}}",
  },
  {
    name: "secret",
    command: "kubectl create secret generic s --from-literal=k=v --from-literal=utf8=héllo --type=Opaque",
    body: "azhzAAoMCgJ2MRIGU2VjcmV0EjMKEQoBcxIAGgAiACoAMgA4AEIAEgYKAWsSAXYSDgoEdXRmOBIGaMOpbGxvGgZPcGFxdWUaACIA",
    want: "{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"s\",\"creationTimestamp\":null},\"data\":{\"k\":\"dg==\",\"utf8\":\"aMOpbGxv\"},\"type\":\"Opaque\"}",
  },
  {
    name: "dockerRegistrySecret",
    command: "kubectl create secret docker-registry dr --docker-server=r.io --docker-username=u --docker-password=p",
    body: "azhzAAoMCgJ2MRIGU2VjcmV0EosBChIKAmRyEgAaACIAKgAyADgAQgASVQoRLmRvY2tlcmNvbmZpZ2pzb24SQHsiYXV0aHMiOnsici5pbyI6eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAiLCJhdXRoIjoiZFRwdyJ9fX0aHmt1YmVybmV0ZXMuaW8vZG9ja2VyY29uZmlnanNvbhoAIgA=",
    want: "{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"dr\",\"creationTimestamp\":null},\"data\":{\".dockerconfigjson\":\"eyJhdXRocyI6eyJyLmlvIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgiOiJkVHB3In19fQ==\"},\"type\":\"kubernetes.io/dockerconfigjson\"}",
  },
  {
    name: "serviceaccount",
    command: "kubectl create serviceaccount sa",
    body: "azhzAAoUCgJ2MRIOU2VydmljZUFjY291bnQSFAoSCgJzYRIAGgAiACoAMgA4AEIAGgAiAA==",
    want: "{\"kind\":\"ServiceAccount\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"sa\",\"creationTimestamp\":null}}",
  },
  {
    name: "deployment",
    command: "kubectl create deployment d --image=nginx:1.27 --replicas=2 --port=80",
    body: "azhzAAoVCgdhcHBzL3YxEgpEZXBsb3ltZW50ErUBChsKAWQSABoAIgAqADIAOABCAFoICgNhcHASAWQShwEIAhIKCggKA2FwcBIBZBpvChoKABIAGgAiACoAMgA4AEIAWggKA2FwcBIBZBJREjMKBW5naW54EgpuZ2lueDoxLjI3KgAyCgoAEAAYUCIAKgBCAGoAcgCAAQCIAQCQAQCiAQAaADIAQgBKAFIAWABgAGgAggEAigEAmgEAwgEAIgIKACgAOAAaDAgAEAAYACAAKAA4ABoAIgA=",
    want: "{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"d\",\"creationTimestamp\":null,\"labels\":{\"app\":\"d\"}},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"d\"}},\"template\":{\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":\"d\"}},\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.27\",\"ports\":[{\"containerPort\":80}],\"resources\":{}}]}},\"strategy\":{}},\"status\":{}}",
  },
  {
    name: "job",
    command: "kubectl create job j --image=busybox -- echo hi",
    body: "azhzAAoPCghiYXRjaC92MRIDSm9iEoIBChEKAWoSABoAIgAqADIAOABCABJjMmEKEAoAEgAaACIAKgAyADgAQgASTRIqCgFqEgdidXN5Ym94GgRlY2hvGgJoaSoAQgBqAHIAgAEAiAEAkAEAogEAGgVOZXZlcjIAQgBKAFIAWABgAGgAggEAigEAmgEAwgEAGgggACgAMAA6ABoAIgA=",
    want: "{\"kind\":\"Job\",\"apiVersion\":\"batch/v1\",\"metadata\":{\"name\":\"j\",\"creationTimestamp\":null},\"spec\":{\"template\":{\"metadata\":{\"creationTimestamp\":null},\"spec\":{\"containers\":[{\"name\":\"j\",\"image\":\"busybox\",\"command\":[\"echo\",\"hi\"],\"resources\":{}}],\"restartPolicy\":\"Never\"}}},\"status\":{}}",
  },
  {
    name: "cronjob",
    command: "kubectl create cronjob cj --image=busybox --schedule=@hourly --restart=OnFailure -- date",
    body: "azhzAAoTCghiYXRjaC92MRIHQ3JvbkpvYhKgAQoSCgJjahIAGgAiACoAMgA4AEIAEocBCgdAaG91cmx5GgAqegoSCgJjahIAGgAiACoAMgA4AEIAEmQyYgoQCgASABoAIgAqADIAOABCABJOEicKAmNqEgdidXN5Ym94GgRkYXRlKgBCAGoAcgCAAQCIAQCQAQCiAQAaCU9uRmFpbHVyZTIAQgBKAFIAWABgAGgAggEAigEAmgEAwgEAGgAaACIA",
    want: "{\"kind\":\"CronJob\",\"apiVersion\":\"batch/v1\",\"metadata\":{\"name\":\"cj\",\"creationTimestamp\":null},\"spec\":{\"schedule\":\"@hourly\",\"jobTemplate\":{\"metadata\":{\"name\":\"cj\",\"creationTimestamp\":null},\"spec\":{\"template\":{\"metadata\":{\"creationTimestamp\":null},\"spec\":{\"containers\":[{\"name\":\"cj\",\"image\":\"busybox\",\"command\":[\"date\"],\"resources\":{}}],\"restartPolicy\":\"OnFailure\"}}}}},\"status\":{}}",
  },
  {
    name: "service",
    command: "kubectl create service clusterip svc --tcp=80:8080 --tcp=443:https",
    body: "azhzAAoNCgJ2MRIHU2VydmljZRKNAQofCgNzdmMSABoAIgAqADIAOABCAFoKCgNhcHASA3N2YxJmChsKBzgwLTgwODASA1RDUBhQIgcIABCQPxoAKAAKIgoJNDQzLWh0dHBzEgNUQ1AYuwMiCwgBEAAaBWh0dHBzKAASCgoDYXBwEgNzdmMaACIJQ2x1c3RlcklQOgBCAFIAWgBgAGgAGgIKABoAIgA=",
    want: "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"svc\",\"creationTimestamp\":null,\"labels\":{\"app\":\"svc\"}},\"spec\":{\"ports\":[{\"name\":\"80-8080\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080},{\"name\":\"443-https\",\"protocol\":\"TCP\",\"port\":443,\"targetPort\":\"https\"}],\"selector\":{\"app\":\"svc\"},\"type\":\"ClusterIP\"},\"status\":{\"loadBalancer\":{}}}",
  },
  {
    name: "serviceNodePort",
    command: "kubectl create service nodeport np --tcp=5678:8080 --node-port=30080",
    body: "azhzAAoNCgJ2MRIHU2VydmljZRJqCh0KAm5wEgAaACIAKgAyADgAQgBaCQoDYXBwEgJucBJFCiAKCTU2NzgtODA4MBIDVENQGK4sIgcIABCQPxoAKIDrARIJCgNhcHASAm5wGgAiCE5vZGVQb3J0OgBCAFIAWgBgAGgAGgIKABoAIgA=",
    want: "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"np\",\"creationTimestamp\":null,\"labels\":{\"app\":\"np\"}},\"spec\":{\"ports\":[{\"name\":\"5678-8080\",\"protocol\":\"TCP\",\"port\":5678,\"targetPort\":8080,\"nodePort\":30080}],\"selector\":{\"app\":\"np\"},\"type\":\"NodePort\"},\"status\":{\"loadBalancer\":{}}}",
  },
  {
    name: "serviceExternalName",
    command: "kubectl create service externalname ext --external-name=example.com",
    body: "azhzAAoNCgJ2MRIHU2VydmljZRJaCh8KA2V4dBIAGgAiACoAMgA4AEIAWgoKA2FwcBIDZXh0EjMSCgoDYXBwEgNleHQaACIMRXh0ZXJuYWxOYW1lOgBCAFILZXhhbXBsZS5jb21aAGAAaAAaAgoAGgAiAA==",
    want: "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"ext\",\"creationTimestamp\":null,\"labels\":{\"app\":\"ext\"}},\"spec\":{\"selector\":{\"app\":\"ext\"},\"type\":\"ExternalName\",\"externalName\":\"example.com\"},\"status\":{\"loadBalancer\":{}}}",
  },
  {
    name: "role",
    command: "kubectl create role r --verb=get,list --resource=pods --resource=deployments.apps",
    body: "azhzAAokChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgRSb2xlEkgKEQoBchIAGgAiACoAMgA4AEIAEhMKA2dldAoEbGlzdBIAGgRwb2RzEh4KA2dldAoEbGlzdBIEYXBwcxoLZGVwbG95bWVudHMaACIA",
    want: "{\"kind\":\"Role\",\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"metadata\":{\"name\":\"r\",\"creationTimestamp\":null},\"rules\":[{\"verbs\":[\"get\",\"list\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]},{\"verbs\":[\"get\",\"list\"],\"apiGroups\":[\"apps\"],\"resources\":[\"deployments\"]}]}",
  },
  {
    name: "rolebinding",
    command: "kubectl create rolebinding rb --role=r --user=u --serviceaccount=default:sa",
    body: "azhzAAorChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgtSb2xlQmluZGluZxKDAQoSCgJyYhIAGgAiACoAMgA4AEIAEiYKBFVzZXISGXJiYWMuYXV0aG9yaXphdGlvbi5rOHMuaW8aAXUiABIfCg5TZXJ2aWNlQWNjb3VudBIAGgJzYSIHZGVmYXVsdBokChlyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvEgRSb2xlGgFyGgAiAA==",
    want: "{\"kind\":\"RoleBinding\",\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"metadata\":{\"name\":\"rb\",\"creationTimestamp\":null},\"subjects\":[{\"kind\":\"User\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"u\"},{\"kind\":\"ServiceAccount\",\"name\":\"sa\",\"namespace\":\"default\"}],\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"r\"}}",
  },
  {
    name: "clusterrole",
    command: "kubectl create clusterrole cr --verb=get --resource=pods --resource-name=p1 --non-resource-url=/healthz",
    body: "azhzAAorChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgtDbHVzdGVyUm9sZRI4ChIKAmNyEgAaACIAKgAyADgAQgASEQoDZ2V0EgAaBHBvZHMiAnAxEg8KA2dldCoIL2hlYWx0aHoaACIA",
    want: "{\"kind\":\"ClusterRole\",\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"metadata\":{\"name\":\"cr\",\"creationTimestamp\":null},\"rules\":[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"resourceNames\":[\"p1\"]},{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/healthz\"]}]}",
  },
  {
    name: "clusterroleAggregation",
    command: "kubectl create clusterrole agg --aggregation-rule=rbac.example.com/aggregate-to-agg=true",
    body: "azhzAAorChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgtDbHVzdGVyUm9sZRJEChMKA2FnZxIAGgAiACoAMgA4AEIAGi0KKwopCiFyYmFjLmV4YW1wbGUuY29tL2FnZ3JlZ2F0ZS10by1hZ2cSBHRydWUaACIA",
    want: "{\"kind\":\"ClusterRole\",\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"metadata\":{\"name\":\"agg\",\"creationTimestamp\":null},\"rules\":null,\"aggregationRule\":{\"clusterRoleSelectors\":[{\"matchLabels\":{\"rbac.example.com/aggregate-to-agg\":\"true\"}}]}}",
  },
  {
    name: "clusterrolebinding",
    command: "kubectl create clusterrolebinding crb --clusterrole=cr --group=g",
    body: "azhzAAoyChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEhJDbHVzdGVyUm9sZUJpbmRpbmcSbAoTCgNjcmISABoAIgAqADIAOABCABInCgVHcm91cBIZcmJhYy5hdXRob3JpemF0aW9uLms4cy5pbxoBZyIAGiwKGXJiYWMuYXV0aG9yaXphdGlvbi5rOHMuaW8SC0NsdXN0ZXJSb2xlGgJjchoAIgA=",
    want: "{\"kind\":\"ClusterRoleBinding\",\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"metadata\":{\"name\":\"crb\",\"creationTimestamp\":null},\"subjects\":[{\"kind\":\"Group\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"g\"}],\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"cr\"}}",
  },
  {
    name: "quota",
    command: "kubectl create quota q --hard=cpu=1500m,memory=1Gi,pods=10 --scopes=BestEffort",
    body: "azhzAAoTCgJ2MRINUmVzb3VyY2VRdW90YRJSChEKAXESABoAIgAqADIAOABCABI7Cg4KA2NwdRIHCgUxNTAwbQoPCgZtZW1vcnkSBQoDMUdpCgwKBHBvZHMSBAoCMTASCkJlc3RFZmZvcnQaABoAIgA=",
    want: "{\"kind\":\"ResourceQuota\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"q\",\"creationTimestamp\":null},\"spec\":{\"hard\":{\"cpu\":\"1500m\",\"memory\":\"1Gi\",\"pods\":\"10\"},\"scopes\":[\"BestEffort\"]},\"status\":{}}",
  },
  {
    name: "priorityclass",
    command: "kubectl create priorityclass pc --value=-5 --description=hi --preemption-policy=Never",
    body: "azhzAAolChRzY2hlZHVsaW5nLms4cy5pby92MRINUHJpb3JpdHlDbGFzcxIsChIKAnBjEgAaACIAKgAyADgAQgAQ+///////////ARgAIgJoaSoFTmV2ZXIaACIA",
    want: "{\"kind\":\"PriorityClass\",\"apiVersion\":\"scheduling.k8s.io/v1\",\"metadata\":{\"name\":\"pc\",\"creationTimestamp\":null},\"value\":-5,\"description\":\"hi\",\"preemptionPolicy\":\"Never\"}",
  },
  {
    name: "pdbPercent",
    command: "kubectl create poddisruptionbudget pdb --selector=app=x --min-available=50%",
    body: "azhzAAogCglwb2xpY3kvdjESE1BvZERpc3J1cHRpb25CdWRnZXQSOgoTCgNwZGISABoAIgAqADIAOABCABIXCgkIARAAGgM1MCUSCgoICgNhcHASAXgaCggAGAAgACgAMAAaACIA",
    want: "{\"kind\":\"PodDisruptionBudget\",\"apiVersion\":\"policy/v1\",\"metadata\":{\"name\":\"pdb\",\"creationTimestamp\":null},\"spec\":{\"minAvailable\":\"50%\",\"selector\":{\"matchLabels\":{\"app\":\"x\"}}},\"status\":{\"disruptionsAllowed\":0,\"currentHealthy\":0,\"desiredHealthy\":0,\"expectedPods\":0}}",
  },
  {
    name: "pdbNumber",
    command: "kubectl create poddisruptionbudget pdb2 --selector=app=y --max-unavailable=1",
    body: "azhzAAogCglwb2xpY3kvdjESE1BvZERpc3J1cHRpb25CdWRnZXQSOAoUCgRwZGIyEgAaACIAKgAyADgAQgASFBIKCggKA2FwcBIBeRoGCAAQARoAGgoIABgAIAAoADAAGgAiAA==",
    want: "{\"kind\":\"PodDisruptionBudget\",\"apiVersion\":\"policy/v1\",\"metadata\":{\"name\":\"pdb2\",\"creationTimestamp\":null},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"y\"}},\"maxUnavailable\":1},\"status\":{\"disruptionsAllowed\":0,\"currentHealthy\":0,\"desiredHealthy\":0,\"expectedPods\":0}}",
  },
  {
    name: "ingress",
    command: "kubectl create ingress ing --rule=foo.com/bar=svc:80,tls=sec --rule=/*=svc2:http --class=nginx --annotation=a=b",
    body: "azhzAAofChRuZXR3b3JraW5nLms4cy5pby92MRIHSW5ncmVzcxKQAQobCgNpbmcSABoAIgAqADIAOABCAGIGCgFhEgFiEm0SDgoHZm9vLmNvbRIDc2VjGisKB2Zvby5jb20SIAoeChwKBC9iYXISDSILCgNzdmMSBAoAEFAaBUV4YWN0GicKABIjCiEKHwoBLxISIhAKBHN2YzISCAoEaHR0cBAAGgZQcmVmaXgiBW5naW54GgIKABoAIgA=",
    want: "{\"kind\":\"Ingress\",\"apiVersion\":\"networking.k8s.io/v1\",\"metadata\":{\"name\":\"ing\",\"creationTimestamp\":null,\"annotations\":{\"a\":\"b\"}},\"spec\":{\"ingressClassName\":\"nginx\",\"tls\":[{\"hosts\":[\"foo.com\"],\"secretName\":\"sec\"}],\"rules\":[{\"host\":\"foo.com\",\"http\":{\"paths\":[{\"path\":\"/bar\",\"pathType\":\"Exact\",\"backend\":{\"service\":{\"name\":\"svc\",\"port\":{\"number\":80}}}}]}},{\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"svc2\",\"port\":{\"name\":\"http\"}}}}]}}]},\"status\":{\"loadBalancer\":{}}}",
  },
];
