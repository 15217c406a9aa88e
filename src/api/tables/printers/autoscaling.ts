// autoscaling printers: horizontal pod autoscalers (NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE) and
// the scale subresource.
import type { Scale } from 'kubernetes-types/autoscaling/v1.js';
import type { HorizontalPodAutoscaler, MetricSpec, MetricStatus, MetricTarget } from 'kubernetes-types/autoscaling/v2.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';
import { canonicalQuantity } from '../../quantity.js';

const MAX_METRICS = 2;

/** Quantity.String() of an optional quantity: Go prints a nil *Quantity as `<nil>`. */
function q(value: string | number | undefined | null): string {
  return value === undefined || value === null ? '<nil>' : canonicalQuantity(value);
}

function percent(n: number | undefined | null, otherwise: string): string {
  return n === undefined || n === null ? otherwise : `${n}%`;
}

function valueOrAverage(target: MetricTarget | undefined, current: { averageValue?: string; value?: string } | undefined, hasStatus: boolean): string {
  if (target?.averageValue !== undefined && target.averageValue !== null) {
    const now = hasStatus && current?.averageValue !== undefined && current.averageValue !== null ? canonicalQuantity(current.averageValue) : '<unknown>';
    return `${now}/${canonicalQuantity(target.averageValue)} (avg)`;
  }
  const now = hasStatus ? q(current?.value) : '<unknown>';
  return `${now}/${q(target?.value)}`;
}

function resourceMetric(
  name: string | undefined,
  target: MetricTarget | undefined,
  current: { averageValue?: string; averageUtilization?: number } | undefined,
): string {
  if (target?.averageValue !== undefined && target.averageValue !== null) {
    const now = current ? q(current.averageValue) : '<unknown>';
    return `${name ?? ''}: ${now}/${canonicalQuantity(target.averageValue)}`;
  }
  return `${name ?? ''}: ${percent(current?.averageUtilization, '<unknown>')}/${percent(target?.averageUtilization, '<auto>')}`;
}

function metricText(spec: MetricSpec, status: MetricStatus | undefined): string {
  switch (spec.type) {
    case 'External':
      return valueOrAverage(spec.external?.target, status?.external?.current, status?.external !== undefined);
    case 'Pods': {
      const now = status?.pods ? q(status.pods.current?.averageValue) : '<unknown>';
      return `${now}/${q(spec.pods?.target?.averageValue)}`;
    }
    case 'Object':
      return valueOrAverage(spec.object?.target, status?.object?.current, status?.object !== undefined);
    case 'Resource':
      return resourceMetric(spec.resource?.name, spec.resource?.target, status?.resource?.current);
    case 'ContainerResource':
      return resourceMetric(spec.containerResource?.name, spec.containerResource?.target, status?.containerResource?.current);
    default:
      return '<unknown type>';
  }
}

/** The TARGETS cell: current/target for the first two metrics (status matched by position), then ` + N more...`. */
export function hpaTargets(specs: readonly MetricSpec[] | undefined, statuses: readonly MetricStatus[] | undefined): string {
  const list = specs ?? [];
  if (list.length === 0) return '<none>';
  const texts = list.map((s, i) => metricText(s, statuses?.[i]));
  if (texts.length > MAX_METRICS) return `${texts.slice(0, MAX_METRICS).join(', ')} + ${texts.length - MAX_METRICS} more...`;
  return texts.join(', ');
}

export const horizontalPodAutoscalerPrinter = printer<HorizontalPodAutoscaler>(
  [
    NAME_COLUMN,
    column('Reference', 'string', 'The object the autoscaler scales, as kind/name.'),
    column('Targets', 'string', 'Current and target values of the autoscaler’s metrics.'),
    column('MinPods', 'string', 'The fewest replicas the autoscaler scales to.'),
    column('MaxPods', 'string', 'The most replicas the autoscaler scales to.'),
    column('Replicas', 'string', 'How many replicas the target has now.'),
    AGE_COLUMN,
  ],
  (hpa, ctx) => {
    const min = hpa.spec?.minReplicas;
    return [
      hpa.metadata?.name ?? '',
      `${hpa.spec?.scaleTargetRef?.kind ?? ''}/${hpa.spec?.scaleTargetRef?.name ?? ''}`,
      hpaTargets(hpa.spec?.metrics, hpa.status?.currentMetrics ?? undefined),
      min === undefined || min === null ? '<unset>' : String(min),
      hpa.spec?.maxReplicas ?? 0,
      hpa.status?.currentReplicas ?? 0,
      ageSince(hpa.metadata?.creationTimestamp, ctx.now),
    ];
  },
);

export const scalePrinter = printer<Scale>(
  [
    // Upstream gives this Name column no "name" format.
    column('Name', 'string', 'The name of the scaled object.'),
    column('Desired', 'integer', 'How many replicas the object should have.'),
    column('Available', 'integer', 'How many replicas the object has.'),
    AGE_COLUMN,
  ],
  (s, ctx) => [s.metadata?.name ?? '', s.spec?.replicas ?? 0, s.status?.replicas ?? 0, ageSince(s.metadata?.creationTimestamp, ctx.now)],
);
