// What the kubelet's API server (port 10250) needs from the kubelet: its pods as the status manager
// sees them, the runtime's streaming calls, and the sandbox of a pod. The kubelet implements this;
// the server owns the wire protocols (HTTP, WebSocket, SPDY) and upstream's messages.
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Registry } from 'prom-client';
import type { UserInfo } from '../../apiserver/authn/types.js';
import type { ContainerRuntime } from '../runtime/types.js';

export interface KubeletServerDeps {
  /** This node's name (`/stats/summary` node.nodeName, messages). */
  readonly nodeName: string;
  /** The pods bound to this node, with `status` as the kubelet's status manager last computed it (served by `/pods`). */
  listPods(): readonly Pod[];
  /**
   * One pod by namespace/name (and uid when the URL carries one), with its current status. Container IDs
   * are read from `status.containerStatuses[].containerID` / `lastState.terminated.containerID`
   * (`<runtime>://<id>`), exactly as upstream's containerLogs and exec resolve them.
   */
  findPod(namespace: string, name: string, uid?: string): Pod | undefined;
  /**
   * The runtime calls the server makes: containerStatus (a container's log path and state, for
   * logs and `follow`), exec/attach/execSync (remotecommand, `/run`) and portForward.
   */
  readonly runtime: Pick<ContainerRuntime, 'containerStatus' | 'exec' | 'attach' | 'execSync' | 'portForward'>;
  /** The id of the pod's ready sandbox, for port-forward; undefined when it has none. */
  podSandboxId(pod: Pod): Promise<string | undefined>;
  /** `/stats/summary` (stats/v1alpha1 Summary); absent = 503 on that path. */
  statsSummary?(): Promise<object>;
  /** `/metrics`: the kubelet's prom-client registry; absent = 404 on that path. */
  readonly metrics?: Registry;
  /** `/metrics/resource`: its own registry (node/pod/container cpu and memory); absent = 404. */
  readonly resourceMetrics?: Registry;
}

/** The authorizer's question for one request (upstream kubelet: resource `nodes`, subresource by path). */
export interface KubeletRequestAttributes {
  user: UserInfo;
  /** `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` from the HTTP method, as upstream. */
  verb: string;
  /** Always `nodes`. */
  resource: 'nodes';
  /** `proxy`, `log`, `stats`, `metrics`, `spec`, `checkpoint`, `pods`, `configz`, `healthz` as upstream's path mapping. */
  subresource: string;
  /** The node name. */
  name: string;
  path: string;
}
