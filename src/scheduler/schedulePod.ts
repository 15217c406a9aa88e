// The scheduling algorithm of one cycle (upstream's schedulePod): PreFilter, Filter over enough
// nodes (starting where the last cycle stopped, so load spreads), then PreScore/Score and the
// highest-scoring node (ties broken at random). Synchronous: the cache is the snapshot.

import type { Pod } from 'kubernetes-types/core/v1.js';
import type { CycleState } from './framework/cycleState.js';
import type { NodeInfo } from './framework/nodeInfo.js';
import type { Framework } from './framework/runtime.js';
import { Code, isSuccess, type NodeInfoLister, type NodeScore, type Status } from './framework/types.js';
import { FitError, type Diagnosis } from './fitError.js';
import type { Nominator } from './nominator.js';

export interface ScheduleResult {
  suggestedHost: string;
  evaluatedNodes: number;
  feasibleNodes: number;
}

/** Upstream's ErrNoNodesAvailable: an error (reason SchedulerError), not a FitError. */
export const ERR_NO_NODES_AVAILABLE = 'no nodes available to schedule pods';

const MIN_FEASIBLE_NODES_TO_FIND = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;

/**
 * How many feasible nodes to look for before scoring (upstream's numFeasibleNodesToFind): all of a
 * small cluster; of a large one a percentage, adaptive by default (50% minus 1% per 125 nodes, at least 5%).
 */
export function numFeasibleNodesToFind(percentage: number | undefined, numAllNodes: number): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
  let pct = percentage ?? 0;
  if (pct === 0) pct = Math.max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND, 50 - Math.trunc(numAllNodes / 125));
  if (pct >= 100) return numAllNodes;
  const n = Math.trunc((numAllNodes * pct) / 100);
  return Math.max(n, MIN_FEASIBLE_NODES_TO_FIND);
}

export class PodScheduler {
  private nextStartNodeIndex = 0;

  constructor(
    private readonly snapshot: NodeInfoLister,
    private readonly nominator: Nominator,
    private readonly globalPercentage: number | undefined,
    private readonly random: () => number = Math.random,
  ) {}

  /** Picks a node for `pod` or throws FitError (rejection) / Error (infrastructure). */
  schedulePod(fwk: Framework, state: CycleState, pod: Readonly<Pod>): ScheduleResult {
    const all = this.snapshot.list();
    if (all.length === 0) throw new Error(ERR_NO_NODES_AVAILABLE);
    const { feasible, diagnosis } = this.findNodesThatFitPod(fwk, state, pod, all);
    if (feasible.length === 0) throw new FitError(all.length, diagnosis);
    const evaluated = feasible.length + diagnosis.nodeToStatus.size;
    if (feasible.length === 1) return { suggestedHost: feasible[0]!.name, evaluatedNodes: evaluated, feasibleNodes: 1 };
    const scores = this.prioritizeNodes(fwk, state, pod, feasible);
    return { suggestedHost: this.selectHost(scores), evaluatedNodes: evaluated, feasibleNodes: feasible.length };
  }

  findNodesThatFitPod(fwk: Framework, state: CycleState, pod: Readonly<Pod>, all: readonly NodeInfo[]): { feasible: NodeInfo[]; diagnosis: Diagnosis } {
    const diagnosis = emptyDiagnosis();
    const pre = fwk.runPreFilterPlugins(state, pod, all);
    if (pre.status && !isSuccess(pre.status)) {
      if (pre.status.code === Code.Error) throw pre.status.error ?? new Error(pre.status.reasons.join(', '));
      for (const n of all) diagnosis.nodeToStatus.set(n.name, pre.status);
      diagnosis.preFilterMsg = pre.status.reasons.join(', ');
      for (const p of pre.rejectors) diagnosis.unschedulablePlugins.add(p);
      return { feasible: [], diagnosis };
    }
    // A pod nominated by an earlier preemption tries its nominated node first.
    const nominated = pod.status?.nominatedNodeName;
    if (nominated) {
      const ni = this.snapshot.get(nominated);
      if (ni && (!pre.result?.nodeNames || pre.result.nodeNames.has(nominated))) {
        const s = fwk.runFilterPluginsWithNominatedPods(state, pod, ni, this.nominator.podsFor(nominated));
        if (isSuccess(s)) return { feasible: [ni], diagnosis };
      }
    }
    let nodes: readonly NodeInfo[] = all;
    const narrowed = pre.result?.nodeNames;
    if (narrowed) {
      nodes = all.filter((n) => narrowed.has(n.name));
      const absent: Status = { code: Code.UnschedulableAndUnresolvable, reasons: [`node(s) didn't satisfy plugin(s) [${[...pre.rejectors].sort().join(' ')}]`] };
      if (nodes.length < all.length) {
        for (const n of all) if (!narrowed.has(n.name)) diagnosis.nodeToStatus.set(n.name, absent);
      }
    }
    const want = numFeasibleNodesToFind(fwk.percentageOfNodesToScore ?? this.globalPercentage, nodes.length);
    const feasible: NodeInfo[] = [];
    const n = nodes.length;
    let processed = 0;
    const start = n === 0 ? 0 : this.nextStartNodeIndex % n;
    for (let i = 0; i < n && feasible.length < want; i++) {
      const ni = nodes[(start + i) % n]!;
      processed++;
      const s = fwk.runFilterPluginsWithNominatedPods(state, pod, ni, this.nominator.podsFor(ni.name));
      if (isSuccess(s)) {
        feasible.push(ni);
        continue;
      }
      if (s!.code === Code.Error) throw s!.error ?? new Error(s!.reasons.join(', '));
      diagnosis.nodeToStatus.set(ni.name, s!);
      if (s!.plugin) diagnosis.unschedulablePlugins.add(s!.plugin);
    }
    this.nextStartNodeIndex = n === 0 ? 0 : (start + processed) % n;
    return { feasible, diagnosis };
  }

  prioritizeNodes(fwk: Framework, state: CycleState, pod: Readonly<Pod>, nodes: readonly NodeInfo[]): NodeScore[] {
    if (fwk.scorePlugins.length === 0) return nodes.map((n) => ({ name: n.name, score: 1 }));
    const pre = fwk.runPreScorePlugins(state, pod, nodes);
    if (pre && !isSuccess(pre)) throw pre.error ?? new Error(`running PreScore plugin "${pre.plugin}": ${pre.reasons.join(', ')}`);
    const { totals, status } = fwk.runScorePlugins(state, pod, nodes);
    if (status) throw status.error ?? new Error(`running Score plugin "${status.plugin}": ${status.reasons.join(', ')}`);
    return totals;
  }

  /** The highest score wins; among equals each is equally likely (reservoir sampling). */
  selectHost(scores: readonly NodeScore[]): string {
    let best = scores[0]!;
    let ties = 1;
    for (let i = 1; i < scores.length; i++) {
      const s = scores[i]!;
      if (s.score > best.score) {
        best = s;
        ties = 1;
      } else if (s.score === best.score) {
        ties++;
        if (this.random() * ties < 1) best = s;
      }
    }
    return best.name;
  }
}

function emptyDiagnosis(): Diagnosis {
  return { nodeToStatus: new Map(), unschedulablePlugins: new Set(), pendingPlugins: new Set() };
}
