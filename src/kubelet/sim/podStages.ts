// The default lifecycle of a pod on a simulated node, as data (see stage.ts): it becomes Running and
// Ready with an IP from its node's podCIDR, completes when it asks to (Jobs), and is deleted with
// grace 0 once the API server marks it for deletion — the statuses a kubelet 1.32 reports for them.
import { StageError, validateStage, type Stage } from './stage.js';
import { parseAllDocuments } from 'yaml';
import type { TemplateValue } from './template.js';

/** Opt-in: a pod with this annotation (a Go duration, e.g. `5s`) completes that long after it started running. */
export const ANNOTATION_COMPLETE_AFTER = 'simulated.k8ts.io/complete-after';
/** With complete-after: the main containers' exit code (default 0 → Succeeded; else Failed with reason Error when restartPolicy is Never). */
export const ANNOTATION_EXIT_CODE = 'simulated.k8ts.io/exit-code';

const notDeleting = { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' } as const;

const podReady: Stage = {
  name: 'pod-ready',
  resourceRef: { apiGroup: 'v1', kind: 'Pod' },
  selector: {
    matchExpressions: [notDeleting, { key: '.status.phase', operator: 'In', values: ['Pending'] }, { key: '.status.podIP', operator: 'DoesNotExist' }],
  },
  next: {
    statusTemplate: {
      phase: 'Running',
      hostIP: '{{ nodeIP }}',
      hostIPs: [{ ip: '{{ nodeIP }}' }],
      podIP: '{{ podIP }}',
      podIPs: [{ ip: '{{ podIP }}' }],
      startTime: '{{ now }}',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: '{{ now }}' },
        { type: 'Initialized', status: 'True', lastTransitionTime: '{{ now }}' },
        {
          $if: { key: '.spec.readinessGates', operator: 'Exists' },
          $then: {
            type: 'Ready',
            status: 'False',
            reason: 'ReadinessGatesNotReady',
            message: 'corresponding condition of pod readiness gate "{{ .spec.readinessGates[0].conditionType }}" does not exist.',
            lastTransitionTime: '{{ now }}',
          },
          $else: { type: 'Ready', status: 'True', lastTransitionTime: '{{ now }}' },
        },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: '{{ now }}' },
        {
          // The scheduler wrote PodScheduled when it bound the pod; a pod created with nodeName gets it from the kubelet.
          $if: { key: '.status.conditions[].type', operator: 'NotIn', values: ['PodScheduled'] },
          $then: { type: 'PodScheduled', status: 'True', lastTransitionTime: '{{ now }}' },
        },
      ],
      containerStatuses: {
        $range: '.spec.containers',
        $each: {
          name: '{{ .name }}',
          image: '{{ .image }}',
          containerID: '{{ containerID }}',
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: '{{ now }}' } },
        },
      },
      initContainerStatuses: {
        $range: '.spec.initContainers',
        $each: {
          $if: { key: '.restartPolicy', operator: 'In', values: ['Always'] },
          // A sidecar keeps running beside the main containers.
          $then: {
            name: '{{ .name }}',
            image: '{{ .image }}',
            containerID: '{{ containerID }}',
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: '{{ now }}' } },
          },
          $else: {
            name: '{{ .name }}',
            image: '{{ .image }}',
            containerID: '{{ containerID }}',
            ready: true,
            started: false,
            restartCount: 0,
            state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: '{{ now }}', finishedAt: '{{ now }}', containerID: '{{ containerID }}' } },
          },
        },
      },
    },
  },
};

// A completing pod fails when it runs once (restartPolicy Never) and its exit code is not 0; with
// OnFailure the kubelet would restart a failing container in place, so only success ends such a pod.
const fails: TemplateValue = [
  { key: '$.spec.restartPolicy', operator: 'In', values: ['Never'] },
  { key: `$.metadata.annotations["${ANNOTATION_EXIT_CODE}"]`, operator: 'Exists', values: [] },
  { key: `$.metadata.annotations["${ANNOTATION_EXIT_CODE}"]`, operator: 'NotIn', values: ['0'] },
];
const ifFails = (then: string | number, otherwise: string | number) => ({ $if: fails, $then: then, $else: otherwise });

const podComplete: Stage = {
  name: 'pod-complete',
  resourceRef: { apiGroup: 'v1', kind: 'Pod' },
  selector: {
    matchExpressions: [
      notDeleting,
      { key: '.status.phase', operator: 'In', values: ['Running'] },
      { key: '.spec.restartPolicy', operator: 'In', values: ['Never', 'OnFailure'] },
      { key: `.metadata.annotations["${ANNOTATION_COMPLETE_AFTER}"]`, operator: 'Exists' },
    ],
  },
  delay: { durationFrom: `.metadata.annotations["${ANNOTATION_COMPLETE_AFTER}"]` },
  next: {
    statusTemplate: {
      phase: ifFails('Failed', 'Succeeded'),
      conditions: [
        // Upstream's generate*ConditionForTerminalPhase: PodFailed / PodCompleted.
        { type: 'Ready', status: 'False', reason: ifFails('PodFailed', 'PodCompleted'), lastTransitionTime: '{{ now }}' },
        { type: 'ContainersReady', status: 'False', reason: ifFails('PodFailed', 'PodCompleted'), lastTransitionTime: '{{ now }}' },
        // The sandbox is torn down once every container has exited.
        { type: 'PodReadyToStartContainers', status: 'False', lastTransitionTime: '{{ now }}' },
      ],
      containerStatuses: {
        $range: '.spec.containers',
        $each: {
          name: '{{ .name }}',
          image: '{{ .image }}',
          containerID: '{{ containerID }}',
          ready: false,
          started: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode: ifFails(`{{ $.metadata.annotations["${ANNOTATION_EXIT_CODE}"] | int }}`, 0),
              reason: ifFails('Error', 'Completed'),
              startedAt: '{{ $.status.startTime }}',
              finishedAt: '{{ now }}',
              containerID: '{{ containerID }}',
            },
          },
        },
      },
    },
  },
};

const podDelete: Stage = {
  name: 'pod-delete',
  resourceRef: { apiGroup: 'v1', kind: 'Pod' },
  selector: { matchExpressions: [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }] },
  next: { delete: true },
};

/** The stages a simulated node drives its pods through unless told otherwise. */
export const DEFAULT_POD_STAGES: readonly Stage[] = [podReady, podComplete, podDelete];

/**
 * Reads stages from YAML (one or more documents, each a Stage or `{kind: Stage, spec: …}` with
 * `metadata.name`, as kwok's files are laid out); throws StageError on the first bad one.
 */
export function parseStages(yamlText: string): Stage[] {
  const out: Stage[] = [];
  for (const doc of parseAllDocuments(yamlText)) {
    if (doc.errors.length) throw new StageError('InvalidStage', `invalid stage YAML: ${doc.errors[0]!.message}`);
    const v = doc.toJS() as Record<string, unknown> | null;
    if (v === null || v === undefined) continue;
    const spec = v['spec'] as Record<string, unknown> | undefined;
    const meta = v['metadata'] as { name?: string } | undefined;
    out.push(validateStage(spec ? { ...spec, name: meta?.name } : v));
  }
  return out;
}
