// Indexed Jobs' successPolicy (upstream success_policy.go, JobSuccessPolicy beta in 1.32): the
// Job succeeds early once a rule's succeededIndexes and/or succeededCount are met.

import type { SuccessPolicy } from 'kubernetes-types/batch/v1.js';
import { parseIndexes, totalIndexes, type OrderedIntervals } from './indexedJob.js';

/** The SuccessCriteriaMet message ("Matched rules at index N") of the first matching rule. */
export function matchSuccessPolicy(policy: Readonly<SuccessPolicy> | undefined, completions: number, succeeded: OrderedIntervals): string | undefined {
  if (!policy || succeeded.length === 0) return undefined;
  for (const [index, rule] of (policy.rules ?? []).entries()) {
    if (rule.succeededIndexes !== undefined) {
      const required = parseIndexes(rule.succeededIndexes, completions);
      // An unparsable rule matches nothing.
      if (required.length === 0) continue;
      if (matchSucceededIndexesRule(required, succeeded, rule.succeededCount)) return `Matched rules at index ${index}`;
    } else if (rule.succeededCount !== undefined && totalIndexes(succeeded) >= rule.succeededCount) {
      return `Matched rules at index ${index}`;
    }
  }
  return undefined;
}

/** All of `rule` succeeded, or at least `succeededCount` of its indexes did. */
export function matchSucceededIndexesRule(rule: OrderedIntervals, succeeded: OrderedIntervals, succeededCount: number | undefined): boolean {
  let contains = 0;
  let r = 0;
  let s = 0;
  while (r < rule.length && s < succeeded.length) {
    const overlap = Math.min(rule[r]!.last, succeeded[s]!.last) - Math.max(rule[r]!.first, succeeded[s]!.first) + 1;
    if (overlap > 0) contains += overlap;
    if (succeeded[s]!.last < rule[r]!.last) s++;
    else if (succeeded[s]!.last > rule[r]!.last) r++;
    else {
      s++;
      r++;
    }
  }
  return contains === totalIndexes(rule) || (succeededCount !== undefined && contains >= succeededCount);
}
