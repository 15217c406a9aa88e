// DefaultPreemption (PostFilter): when no node fits, find nodes where evicting lower-priority pods
// would make room, pick the one that hurts least (fewest PodDisruptionBudget violations, lowest
// victim priorities, fewest victims…), evict its victims and nominate the node for the pod.

import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { fromLabelSelector, matches } from '../../api/labels.js';
import type { SchedulerAPI } from '../api.js';
import type { CycleState } from '../framework/cycleState.js';
import { fitErrorMessage } from '../fitError.js';
import type { NodeInfo, PodInfo } from '../framework/nodeInfo.js';
import type { Framework } from '../framework/runtime.js';
import { Code, ConfigError, isSuccess, unresolvable, unschedulable, type MaybeStatus, type NodeToStatus, type PluginFactory, type PostFilterPlugin, type PostFilterResult, type Status } from '../framework/types.js';
import type { Nominator } from '../nominator.js';

export const Name = 'DefaultPreemption';
export const ReasonNotHelpful = 'Preemption is not helpful for scheduling';
export const ReasonNoVictims = 'No preemption victims found for incoming pod';
export const ReasonPolicyNever = 'not eligible due to preemptionPolicy=Never.';
export const ReasonTerminatingOnNominated = 'not eligible due to a terminating pod on the nominated node.';

export interface PreemptionDeps {
  api: SchedulerAPI;
  nominator: Nominator;
  /** The framework this plugin runs in (its filters and PreFilter extensions do the what-ifs). */
  framework(): Framework;
  random?: () => number;
}

interface Candidate {
  node: string;
  victims: PodInfo[];
  numPDBViolations: number;
}

const priorityOf = (p: Readonly<Pod>) => p.spec?.priority ?? 0;
const startOf = (p: Readonly<Pod>) => Date.parse(p.status?.startTime ?? p.metadata?.creationTimestamp ?? '') || 0;

/** Upstream's MoreImportantPod: higher priority, then the one running longer. */
export function moreImportant(a: Readonly<Pod>, b: Readonly<Pod>): boolean {
  const pa = priorityOf(a);
  const pb = priorityOf(b);
  if (pa !== pb) return pa > pb;
  return startOf(a) < startOf(b);
}

export function defaultPreemption(deps: PreemptionDeps): PluginFactory {
  return {
    name: Name,
    defaultArgs: () => ({ minCandidateNodesPercentage: 10, minCandidateNodesAbsolute: 100 }),
    create(args, handle) {
      const pct = Number(args?.['minCandidateNodesPercentage'] ?? 10);
      const abs = Number(args?.['minCandidateNodesAbsolute'] ?? 100);
      if (!Number.isInteger(pct) || pct < 0 || pct > 100) throw new ConfigError('minCandidateNodesPercentage', `Invalid value: ${pct}: not in valid range [0, 100]`);
      if (!Number.isInteger(abs) || abs < 0) throw new ConfigError('minCandidateNodesAbsolute', `Invalid value: ${abs}: not in valid range [0, inf)`);
      if (pct === 0 && abs === 0) throw new ConfigError('minCandidateNodesPercentage', 'Invalid value: 0: cannot be zero at the same time as minCandidateNodesAbsolute');
      const random = deps.random ?? Math.random;
      const plugin: PostFilterPlugin = {
        name: Name,
        async postFilter(state, pod, statuses, signal) {
          const out = await preempt(state, pod, statuses, signal);
          const msg = out.status.reasons.join(', ');
          if (out.status.code !== Code.Success && msg) return { ...out, status: { code: out.status.code, reasons: [`preemption: ${msg}`] } };
          return out;
        },
      };

      async function preempt(state: CycleState, pod: Readonly<Pod>, m: NodeToStatus, signal?: AbortSignal): Promise<{ result?: PostFilterResult; status: Status }> {
        const snapshot = handle.snapshot();
        const fwk = deps.framework();
        const notEligible = eligibility(pod, m);
        if (notEligible) return { status: unschedulable(notEligible) };
        const all = snapshot.list();
        const statuses = new Map<string, Status>();
        const potential: NodeInfo[] = [];
        for (const n of all) {
          if (m.get(n.name)?.code === Code.UnschedulableAndUnresolvable) statuses.set(n.name, unresolvable(ReasonNotHelpful));
          else potential.push(n);
        }
        if (potential.length === 0) {
          if (pod.status?.nominatedNodeName) await deps.api.patchPodStatus(pod, undefined, null).catch(() => undefined);
          return { result: { nominatedNodeName: '' }, status: unschedulable(fitErrorMessage(statuses.size, { nodeToStatus: statuses })) };
        }
        const pdbs = handle.podDisruptionBudgets.list(pod.metadata?.namespace);
        const numCandidates = Math.min(potential.length, Math.max(Math.trunc((potential.length * pct) / 100), abs));
        const offset = Math.floor(random() * potential.length);
        const candidates: Candidate[] = [];
        let nonViolating = 0;
        for (let i = 0; i < potential.length && candidates.length < numCandidates; i++) {
          const ni = potential[(offset + i) % potential.length]!;
          const r = selectVictimsOnNode(fwk, state.clone(), pod, ni.clone(), pdbs, deps.nominator.podsFor(ni.name));
          if ('status' in r) {
            statuses.set(ni.name, r.status);
            continue;
          }
          candidates.push({ node: ni.name, victims: r.victims, numPDBViolations: r.numPDBViolations });
          if (r.numPDBViolations === 0) nonViolating++;
          if (nonViolating >= numCandidates) break;
        }
        if (candidates.length === 0) {
          return { result: { nominatedNodeName: '' }, status: unschedulable(fitErrorMessage(statuses.size, { nodeToStatus: statuses })) };
        }
        const best = pickOneNodeForPreemption(candidates);
        await prepareCandidate(best, pod, fwk.schedulerName, signal);
        return { result: { nominatedNodeName: best.node }, status: { code: Code.Success, reasons: [] } };
      }

      // Upstream's PodEligibleToPreemptOthers; returns the reason it is not, or undefined.
      function eligibility(pod: Readonly<Pod>, m: NodeToStatus): string | undefined {
        if (pod.spec?.preemptionPolicy === 'Never') return ReasonPolicyNever;
        const nominated = pod.status?.nominatedNodeName;
        if (nominated && m.get(nominated)?.code !== Code.UnschedulableAndUnresolvable) {
          const ni = handle.snapshot().get(nominated);
          const prio = priorityOf(pod);
          // Victims of an earlier preemption are still leaving: wait for them rather than evict more.
          if (ni?.pods.some((p) => p.pod.metadata?.deletionTimestamp && priorityOf(p.pod) < prio)) return ReasonTerminatingOnNominated;
        }
        return undefined;
      }

      async function prepareCandidate(c: Candidate, pod: Readonly<Pod>, schedulerName: string, signal?: AbortSignal): Promise<void> {
        await Promise.all(
          c.victims.map(async (v) => {
            const victim = v.pod;
            await deps.api
              .patchPodStatus(victim, { type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler', message: `${schedulerName}: preempting to accommodate a higher priority pod` }, undefined)
              .catch(() => undefined);
            await deps.api.deletePod(victim, signal);
            deps.api.event(victim, pod, 'Normal', 'Preempted', 'Preempting', `Preempted by pod ${pod.metadata?.uid} on node ${c.node}`);
          }),
        );
        // Lower-priority pods nominated to this node lose the nomination: the room is for this pod.
        const prio = priorityOf(pod);
        for (const p of deps.nominator.podsFor(c.node)) {
          if (priorityOf(p) >= prio || p.metadata?.uid === pod.metadata?.uid) continue;
          deps.nominator.delete(p);
          await deps.api.patchPodStatus(p, undefined, null).catch(() => undefined);
        }
      }

      return plugin;
    },
  };
}

/**
 * The fewest, least important pods to remove from `ni` for `pod` to fit, preferring to keep pods
 * whose eviction would violate a PodDisruptionBudget. Works on the clones it is given.
 */
export function selectVictimsOnNode(
  fwk: Framework,
  state: CycleState,
  pod: Readonly<Pod>,
  ni: NodeInfo,
  pdbs: readonly Readonly<PodDisruptionBudget>[],
  nominated: readonly Readonly<Pod>[] = [],
): { victims: PodInfo[]; numPDBViolations: number } | { status: Status } {
  const exts = fwk.preFilterPlugins.filter((p) => !state.skipFilterPlugins.has(p.name)).map((p) => p.preFilterExtensions?.()).filter((e) => e !== undefined);
  const remove = (pi: PodInfo): MaybeStatus => {
    ni.removePod(pi.pod);
    for (const e of exts) {
      const s = e!.removePod(state, pod, pi, ni);
      if (!isSuccess(s)) return s;
    }
    return undefined;
  };
  const add = (pi: PodInfo): MaybeStatus => {
    ni.addPodInfo(pi);
    for (const e of exts) {
      const s = e!.addPod(state, pod, pi, ni);
      if (!isSuccess(s)) return s;
    }
    return undefined;
  };
  const prio = priorityOf(pod);
  const potential = ni.pods.filter((p) => priorityOf(p.pod) < prio);
  if (potential.length === 0) return { status: unresolvable(ReasonNoVictims) };
  for (const pi of potential) {
    const s = remove(pi);
    if (!isSuccess(s)) return { status: s! };
  }
  const fits = fwk.runFilterPluginsWithNominatedPods(state, pod, ni, nominated);
  if (!isSuccess(fits)) return { status: fits! };
  potential.sort((a, b) => (moreImportant(a.pod, b.pod) ? -1 : moreImportant(b.pod, a.pod) ? 1 : 0));
  const { violating, nonViolating } = splitByPDBViolation(potential, pdbs);
  const victims: PodInfo[] = [];
  let numPDBViolations = 0;
  const reprieve = (pi: PodInfo): boolean | Status => {
    const s = add(pi);
    if (!isSuccess(s)) return s!;
    const f = fwk.runFilterPluginsWithNominatedPods(state, pod, ni, nominated);
    if (isSuccess(f)) return true;
    const r = remove(pi);
    if (!isSuccess(r)) return r!;
    victims.push(pi);
    return false;
  };
  for (const pi of violating) {
    const r = reprieve(pi);
    if (typeof r !== 'boolean') return { status: r };
    if (!r) numPDBViolations++;
  }
  for (const pi of nonViolating) {
    const r = reprieve(pi);
    if (typeof r !== 'boolean') return { status: r };
  }
  if (victims.length === 0) return { status: unresolvable(ReasonNoVictims) };
  victims.sort((a, b) => (moreImportant(a.pod, b.pod) ? -1 : moreImportant(b.pod, a.pod) ? 1 : 0));
  return { victims, numPDBViolations };
}

/** Splits pods (most important first) into those whose eviction would break a PDB and the rest. */
export function splitByPDBViolation(pods: readonly PodInfo[], pdbs: readonly Readonly<PodDisruptionBudget>[]): { violating: PodInfo[]; nonViolating: PodInfo[] } {
  const allowed = pdbs.map((p) => p.status?.disruptionsAllowed ?? 0);
  const violating: PodInfo[] = [];
  const nonViolating: PodInfo[] = [];
  for (const pi of pods) {
    const labels = pi.pod.metadata?.labels;
    let violated = false;
    if (labels && Object.keys(labels).length > 0) {
      pdbs.forEach((pdb, i) => {
        if (pdb.metadata?.namespace !== pi.pod.metadata?.namespace) return;
        const sel = pdb.spec?.selector;
        if (!sel) return;
        const reqs = fromLabelSelector(sel);
        if (reqs.length === 0 || !matches(reqs, labels)) return;
        // A pod the PDB controller already counts as disrupted is not counted again.
        if (pdb.status?.disruptedPods && pi.pod.metadata?.name! in pdb.status.disruptedPods) return;
        allowed[i]!--;
        if (allowed[i]! < 0) violated = true;
      });
    }
    (violated ? violating : nonViolating).push(pi);
  }
  return { violating, nonViolating };
}

/** Upstream's pickOneNodeForPreemption: each criterion narrows the field until one node remains. */
export function pickOneNodeForPreemption(candidates: readonly Candidate[]): Candidate {
  let field = [...candidates];
  const narrow = (score: (c: Candidate) => number) => {
    const best = Math.min(...field.map(score));
    field = field.filter((c) => score(c) === best);
  };
  narrow((c) => c.numPDBViolations);
  if (field.length > 1) narrow((c) => priorityOf(c.victims[0]!.pod));
  if (field.length > 1) narrow((c) => c.victims.reduce((s, v) => s + priorityOf(v.pod) + 2 ** 31, 0));
  if (field.length > 1) narrow((c) => c.victims.length);
  if (field.length > 1) {
    // The node whose most important victims started last loses the least work.
    narrow((c) => {
      const top = priorityOf(c.victims[0]!.pod);
      const earliest = Math.min(...c.victims.filter((v) => priorityOf(v.pod) === top).map((v) => startOf(v.pod)));
      return -earliest;
    });
  }
  return field[0]!;
}

export type { Candidate as PreemptionCandidate };
