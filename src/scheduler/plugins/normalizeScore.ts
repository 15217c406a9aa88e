// Score normalization shared by plugins whose raw scores are counts or sums (NodeAffinity,
// TaintToleration), after upstream's helper.DefaultNormalizeScore.

import type { NodeScore } from '../framework/types.js';

/**
 * Rescales `scores` in place to 0..maxPriority in proportion to the highest score (integer
 * arithmetic, truncating as upstream does). With `reverse`, the highest raw score gets 0 and the
 * lowest maxPriority; when every score is 0, reverse gives everyone maxPriority.
 */
export function defaultNormalizeScore(maxPriority: number, reverse: boolean, scores: NodeScore[]): void {
  let maxCount = 0;
  for (const s of scores) if (s.score > maxCount) maxCount = s.score;
  if (maxCount === 0) {
    if (reverse) for (const s of scores) s.score = maxPriority;
    return;
  }
  for (const s of scores) {
    const scaled = Math.trunc((maxPriority * s.score) / maxCount);
    s.score = reverse ? maxPriority - scaled : scaled;
  }
}
