// NodeResourcesBalancedAllocation: prefers nodes whose resources would be used evenly with the pod
// on them — score = (1 − standard deviation of the requested/allocatable fractions) × 100, over the
// configured resources (cpu and memory by default), as upstream 1.32 computes it.

import type { Pod } from 'kubernetes-types/core/v1.js';
import type { NodeInfo } from '../framework/nodeInfo.js';
import type { CycleState, StateData } from '../framework/cycleState.js';
import { MAX_NODE_SCORE, type MaybeStatus, type PluginFactory, type PreScorePlugin, type ScorePlugin, type Status } from '../framework/types.js';
import { duplicate, invalidValue, type FieldError } from '../../apiserver/status.js';
import { throwFirst } from './pluginArgs.js';
import { defaultResourceSpecs, parseResourceSpecs, podResourceRequestList, resourceAllocationScore, type ResourceSpec } from './resourceAllocation.js';

export const NAME = 'NodeResourcesBalancedAllocation';
const PRE_SCORE_STATE_KEY = `PreScore${NAME}`;

export interface NodeResourcesBalancedAllocationArgs {
  readonly resources: readonly ResourceSpec[];
}

/** Parses args with v1 defaulting: no resources → cpu and memory; weight 0 → 1. */
export function parseBalancedAllocationArgs(raw: Record<string, unknown> | undefined): NodeResourcesBalancedAllocationArgs {
  const resources = parseResourceSpecs(raw?.resources, 'resources');
  return { resources: resources && resources.length > 0 ? resources : defaultResourceSpecs() };
}

/** Upstream's ValidateNodeResourcesBalancedAllocationArgs: no duplicates, every weight exactly 1. */
export function validateBalancedAllocationArgs(args: NodeResourcesBalancedAllocationArgs): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  args.resources.forEach((r, i) => {
    if (seen.has(r.name)) errs.push(duplicate(`resources[${i}].name`, r.name));
    seen.add(r.name);
    if (r.weight !== 1) errs.push(invalidValue(`resources[${i}].weight`, r.weight, 'must be 1'));
  });
  return errs;
}

/**
 * (1 − std) × 100 over the fractions requested/allocatable (each capped at 1) of the resources the
 * node has. Two resources: std = |f1 − f2| / 2; more: the population standard deviation.
 */
export function balancedResourceScorer(requested: readonly number[], allocatable: readonly number[]): number {
  const fractions: number[] = [];
  let total = 0;
  for (let i = 0; i < requested.length; i++) {
    if (allocatable[i] === 0) continue;
    const f = Math.min(requested[i]! / allocatable[i]!, 1);
    total += f;
    fractions.push(f);
  }
  let std = 0;
  if (fractions.length === 2) std = Math.abs((fractions[0]! - fractions[1]!) / 2);
  else if (fractions.length > 2) {
    const mean = total / fractions.length;
    std = Math.sqrt(fractions.reduce((sum, f) => sum + (f - mean) * (f - mean), 0) / fractions.length);
  }
  return Math.trunc((1 - std) * MAX_NODE_SCORE);
}

class PreScoreState implements StateData {
  constructor(readonly podRequests: readonly number[]) {}
  clone(): StateData {
    return this;
  }
}

class BalancedAllocation implements PreScorePlugin, ScorePlugin {
  readonly name = NAME;

  constructor(private readonly resources: readonly ResourceSpec[]) {}

  preScore(state: CycleState, pod: Readonly<Pod>): MaybeStatus {
    // Balance is about real requests, not the non-zero defaults LeastAllocated spreads with.
    state.write(PRE_SCORE_STATE_KEY, new PreScoreState(podResourceRequestList(pod, this.resources, true)));
    return undefined;
  }

  score(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): number | Status {
    const reqs = state.read<PreScoreState>(PRE_SCORE_STATE_KEY)?.podRequests ?? podResourceRequestList(pod, this.resources, true);
    return resourceAllocationScore(nodeInfo, this.resources, reqs, true, balancedResourceScorer);
  }
}

export const NodeResourcesBalancedAllocation: PluginFactory = {
  name: NAME,
  defaultArgs: () => ({ resources: defaultResourceSpecs() }),
  create(args) {
    const parsed = parseBalancedAllocationArgs(args);
    throwFirst(validateBalancedAllocationArgs(parsed));
    return new BalancedAllocation(parsed.resources);
  },
};
