// scheduling.k8s.io and node.k8s.io printers: priority classes and runtime classes.
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import type { PriorityClass } from 'kubernetes-types/scheduling/v1.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';

export const priorityClassPrinter = printer<PriorityClass>(
  [
    NAME_COLUMN,
    column('Value', 'integer', 'The priority pods of the class get.'),
    column('Global-Default', 'boolean', 'Whether pods without a class get this one.'),
    AGE_COLUMN,
    // Not a wide column upstream, although its cell only exists in the wide form (which the server always uses).
    column('PreemptionPolicy', 'string', 'Whether pods of the class may preempt others: PreemptLowerPriority or Never.'),
  ],
  (pc, ctx) => [
    pc.metadata?.name ?? '',
    pc.value ?? 0,
    pc.globalDefault ?? false,
    ageSince(pc.metadata?.creationTimestamp, ctx.now),
    pc.preemptionPolicy ?? 'PreemptLowerPriority', // defaulted
  ],
);

export const runtimeClassPrinter = printer<RuntimeClass>(
  [NAME_COLUMN, column('Handler', 'string', 'The CRI handler that runs pods of the class.'), AGE_COLUMN],
  (rc, ctx) => [rc.metadata?.name ?? '', rc.handler ?? '', ageSince(rc.metadata?.creationTimestamp, ctx.now)],
);
