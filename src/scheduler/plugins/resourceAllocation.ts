// The resource-allocation scoring shared by NodeResourcesFit (LeastAllocated, MostAllocated,
// RequestedToCapacityRatio) and NodeResourcesBalancedAllocation, after upstream's
// noderesources/resource_allocation.go: per configured resource, the node's allocatable and what
// would be requested with the pod on it, handed to a strategy's scorer.

import type { Pod } from 'kubernetes-types/core/v1.js';
import { isScalarResourceName, podRequests, type NodeInfo } from '../framework/nodeInfo.js';
import { errorStatus, type Status } from '../framework/types.js';
import { invalidValue, type FieldError } from '../../apiserver/status.js';
import { optionalArray, optionalInteger, optionalObject, optionalString } from './pluginArgs.js';

/** A resource a scorer looks at, with its weight (`{name: cpu, weight: 1}`). */
export interface ResourceSpec {
  readonly name: string;
  readonly weight: number;
}

/** cpu and memory, weight 1 each: KubeSchedulerConfiguration v1's default for both plugins. */
export function defaultResourceSpecs(): ResourceSpec[] {
  return [
    { name: 'cpu', weight: 1 },
    { name: 'memory', weight: 1 },
  ];
}

/** Scores one node from per-resource (requested-with-pod, allocatable) pairs, in `resources` order. */
export type ResourceScorer = (requested: readonly number[], allocatable: readonly number[]) => number;

/** floor(a × b / c) for non-negative integers, exact even when a × b passes 2^53. */
export function mulDiv(a: number, b: number, c: number): number {
  const p = a * b;
  if (Math.abs(p) <= 0xffffffff) return Math.trunc(p / c);
  return Number((BigInt(Math.trunc(a)) * BigInt(Math.trunc(b))) / BigInt(Math.trunc(c)));
}

/**
 * What the pod asks of each resource. Unless `useRequested`, a container without a cpu or memory
 * request counts as upstream's non-zero defaults (100m, 200Mi), so that empty pods still spread.
 */
export function podResourceRequestList(pod: Readonly<Pod>, resources: readonly ResourceSpec[], useRequested: boolean): number[] {
  const reqs = podRequests(pod, !useRequested);
  return resources.map((r) => reqs.get(r.name));
}

/**
 * The node's allocatable of `name` and what would be requested of it with the pod there; (0, 0)
 * — "skip this resource" — for an extended resource the pod does not ask for or the node lacks.
 */
function allocatableAndRequested(nodeInfo: NodeInfo, name: string, podRequest: number, useRequested: boolean): [number, number] {
  if (podRequest === 0 && isScalarResourceName(name)) return [0, 0];
  const requested = useRequested ? nodeInfo.requested : nodeInfo.nonZeroRequested;
  switch (name) {
    case 'cpu':
      return [nodeInfo.allocatable.milliCPU, requested.milliCPU + podRequest];
    case 'memory':
      return [nodeInfo.allocatable.memory, requested.memory + podRequest];
    case 'ephemeral-storage':
      return [nodeInfo.allocatable.ephemeralStorage, nodeInfo.requested.ephemeralStorage + podRequest];
    default: {
      const alloc = nodeInfo.allocatable.scalar.get(name);
      if (alloc === undefined) return [0, 0];
      return [alloc, (nodeInfo.requested.scalar.get(name) ?? 0) + podRequest];
    }
  }
}

/** The node's score under `scorer`, or an Error status when there is nothing to score with. */
export function resourceAllocationScore(
  nodeInfo: NodeInfo,
  resources: readonly ResourceSpec[],
  podRequestList: readonly number[],
  useRequested: boolean,
  scorer: ResourceScorer,
): number | Status {
  if (!nodeInfo.node) return errorStatus('node not found');
  if (resources.length === 0) return errorStatus('resources not found');
  const requested = new Array<number>(resources.length).fill(0);
  const allocatable = new Array<number>(resources.length).fill(0);
  for (let i = 0; i < resources.length; i++) {
    const [alloc, req] = allocatableAndRequested(nodeInfo, resources[i]!.name, podRequestList[i] ?? 0, useRequested);
    // A resource the node does not have stays (0, 0); scorers skip it.
    if (alloc === 0) continue;
    allocatable[i] = alloc;
    requested[i] = req;
  }
  return scorer(requested, allocatable);
}

/** Parses a `resources` list ({name, weight}), applying v1 defaulting: weight 0 or absent → 1. */
export function parseResourceSpecs(value: unknown, field: string): ResourceSpec[] | undefined {
  const list = optionalArray(value, field);
  if (!list) return undefined;
  return list.map((item, i) => {
    const o = optionalObject(item, `${field}[${i}]`) ?? {};
    const name = optionalString(o.name, `${field}[${i}].name`) ?? '';
    const weight = optionalInteger(o.weight, `${field}[${i}].weight`) ?? 0;
    return { name, weight: weight === 0 ? 1 : weight };
  });
}

/** Upstream's validateResources: every weight in (0, 100]. */
export function resourceSpecErrors(resources: readonly ResourceSpec[], field: string): FieldError[] {
  const errs: FieldError[] = [];
  resources.forEach((r, i) => {
    if (r.weight <= 0 || r.weight > 100) {
      errs.push(invalidValue(`${field}[${i}].weight`, r.weight, `resource weight of ${r.name} not in valid range (0, 100]`));
    }
  });
  return errs;
}
