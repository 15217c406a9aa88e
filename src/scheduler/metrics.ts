// The scheduler's Prometheus metrics, with upstream's names and labels.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class SchedulerMetrics {
  readonly registry = new Registry();
  private readonly attempts = new Counter({
    name: 'scheduler_schedule_attempts_total',
    help: 'Number of attempts to schedule pods, by the result. \'unschedulable\' means a pod could not be scheduled, while \'error\' means an internal scheduler problem.',
    labelNames: ['result', 'profile'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'scheduler_scheduling_attempt_duration_seconds',
    help: 'Scheduling attempt latency in seconds (scheduling algorithm + binding)',
    labelNames: ['result', 'profile'] as const,
    buckets: Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i),
    registers: [this.registry],
  });
  private readonly pending = new Gauge({
    name: 'scheduler_pending_pods',
    help: "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  attempt(result: 'scheduled' | 'unschedulable' | 'error', profile: string, seconds: number): void {
    this.attempts.inc({ result, profile });
    this.duration.observe({ result, profile }, seconds);
  }

  setPending(c: { active: number; backoff: number; unschedulable: number; gated: number }): void {
    this.pending.set({ queue: 'active' }, c.active);
    this.pending.set({ queue: 'backoff' }, c.backoff);
    this.pending.set({ queue: 'unschedulable' }, c.unschedulable);
    this.pending.set({ queue: 'gated' }, c.gated);
  }
}
