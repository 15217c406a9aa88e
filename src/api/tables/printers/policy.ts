// policy/v1 printer: pod disruption budgets, NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE.
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { intOrString } from '../format.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';

export const podDisruptionBudgetPrinter = printer<PodDisruptionBudget>(
  [
    NAME_COLUMN,
    column('Min Available', 'string', 'The pods (count or percentage) that must stay available.'),
    column('Max Unavailable', 'string', 'The pods (count or percentage) that may be unavailable.'),
    column('Allowed Disruptions', 'integer', 'How many pods may be disrupted right now.'),
    AGE_COLUMN,
  ],
  (pdb, ctx) => {
    const min = pdb.spec?.minAvailable;
    const max = pdb.spec?.maxUnavailable;
    return [
      pdb.metadata?.name ?? '',
      min === undefined || min === null ? 'N/A' : intOrString(min),
      max === undefined || max === null ? 'N/A' : intOrString(max),
      pdb.status?.disruptionsAllowed ?? 0,
      ageSince(pdb.metadata?.creationTimestamp, ctx.now),
    ];
  },
);
