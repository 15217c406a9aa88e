// Container lifecycle hooks (upstream pkg/kubelet/lifecycle/handlers.go and the hook steps of
// kuberuntime_container.go): postStart and preStop handlers of kind exec, httpGet and sleep, their failure
// messages, and the `FailedPostStartHook` / `FailedPreStopHook` events.
import type { Container, LifecycleHandler, Pod } from 'kubernetes-types/core/v1.js';
import { realClock, sleep, type Clock } from '../../client/clock.js';
import { logger } from '../../util/log.js';
import { formatPod } from '../dns.js';
import { goQuote } from '../envvars.js';
import { containerRef, podRef, type EventSink } from '../prober/prober.js';
import { HTTPClientError, httpGet, newRequestForHTTPGetAction, ProbeError } from '../prober/probes.js';
import type { ContainerRuntime } from '../runtime/types.js';

/** Event reasons (upstream pkg/kubelet/events). */
export const FAILED_POST_START_HOOK = 'FailedPostStartHook';
export const FAILED_PRE_STOP_HOOK = 'FailedPreStopHook';
export const LIFECYCLE_HTTP_FALLBACK = 'LifecycleHTTPFallback';

/** Container waiting/termination reason after a failed postStart hook (upstream ErrPostStartHook). */
export const POST_START_HOOK_ERROR = 'PostStartHookError';

const log = logger('kubelet-lifecycle');

/** Lifecycle HTTP requests have no timeout upstream; this bound only keeps a dead peer from holding a hook forever. */
const HTTP_HOOK_LIMIT_SECONDS = 24 * 3600;

export interface HandlerRunnerOptions {
  /** Runs exec hooks (ExecSync without a timeout, as upstream). */
  runtime: Pick<ContainerRuntime, 'execSync'>;
  /** The pod's IP for httpGet hooks without `host` (upstream reads the sandbox status); undefined when it has none. */
  podIP(pod: Pod): string | undefined | Promise<string | undefined>;
  /** Events (`FailedPostStartHook`, `FailedPreStopHook`, `LifecycleHTTPFallback`). */
  recorder?: EventSink;
  clock?: Clock;
}

function go(v: readonly string[]): string {
  return `[${v.join(' ')}]`;
}

/** Runs lifecycle handlers (upstream handlerRunner). */
export class HandlerRunner {
  private readonly clock: Clock;

  constructor(readonly options: HandlerRunnerOptions) {
    this.clock = options.clock ?? realClock;
  }

  /**
   * Runs `handler` for the container; resolves to undefined on success, or to the failure message upstream
   * reports (`Exec lifecycle hook ([sh -c …]) for Container "x" in Pod "…" failed - error: …, message: "…"`).
   * `signal` ends a sleep hook early (an error, as upstream) and stops waiting for exec and HTTP hooks.
   */
  async run(pod: Pod, container: Container, containerId: string, handler: LifecycleHandler, signal?: AbortSignal): Promise<string | undefined> {
    const who = `for Container ${goQuote(container.name)} in Pod ${goQuote(formatPod(pod))}`;
    if (handler.exec) {
      const cmd = handler.exec.command ?? [];
      const r = await this.runExec(containerId, cmd, signal);
      if (r === undefined) return undefined;
      const msg = `Exec lifecycle hook (${go(cmd)}) ${who} failed - error: ${r.error}, message: ${goQuote(r.output)}`;
      log.info({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, container: container.name, err: r.error }, 'exec lifecycle hook failed');
      return msg;
    }
    if (handler.httpGet) {
      const err = await this.runHTTP(pod, container, handler, signal);
      if (err === undefined) return undefined;
      log.info({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, container: container.name, err }, 'HTTP lifecycle hook failed');
      return `HTTP lifecycle hook (${handler.httpGet.path ?? ''}) ${who} failed - error: ${err}`;
    }
    if (handler.sleep) {
      const seconds = handler.sleep.seconds;
      try {
        await sleep(seconds * 1000, signal, this.clock);
        return undefined;
      } catch {
        return `Sleep lifecycle hook (${seconds}) ${who} failed - error: container terminated before sleep hook finished`;
      }
    }
    // tcpSocket is kept in the API for compatibility only: hooks with it fail at runtime, as the API documents.
    return `Cannot run handler: invalid handler: ${JSON.stringify(handler)}`;
  }

  private async runExec(containerId: string, cmd: string[], signal?: AbortSignal): Promise<{ error: string; output: string } | undefined> {
    const aborted = new Promise<'aborted'>((resolve) => {
      if (signal?.aborted) resolve('aborted');
      signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    try {
      const r = await Promise.race([this.options.runtime.execSync(containerId, cmd, 0), aborted]);
      if (r === 'aborted') return { error: 'context canceled', output: '' };
      if (r.exitCode === 0) return undefined;
      // Upstream's remote runtime error text for a non-zero exit; the output is stdout then stderr.
      return {
        error: `command '${cmd.join(' ')}' exited with ${r.exitCode}: ${r.stderr.toString('utf8')}`,
        output: Buffer.concat([r.stdout, r.stderr]).toString('utf8'),
      };
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err), output: '' };
    }
  }

  /** The GET of an httpGet hook; undefined on any HTTP response (its status is not judged, as upstream). */
  private async runHTTP(pod: Pod, container: Container, handler: LifecycleHandler, signal?: AbortSignal): Promise<string | undefined> {
    const action = handler.httpGet!;
    let podIP = action.host ?? '';
    if (!podIP) {
      podIP = (await this.options.podIP(pod)) ?? '';
      if (!podIP) return 'failed to find networking container: the pod has no IP';
    }
    let req;
    try {
      req = newRequestForHTTPGetAction(action, container, podIP, 'lifecycle');
    } catch (err) {
      return err instanceof ProbeError ? err.message : String(err);
    }
    try {
      await httpGet(req, HTTP_HOOK_LIMIT_SECONDS, signal);
      return undefined;
    } catch (err) {
      if (!(err instanceof HTTPClientError)) return String(err);
      if (req.url.protocol !== 'https:' || err.code !== 'EPROTO') return err.message;
      // An HTTPS hook that reached a plain HTTP server: retry over HTTP without credentials (upstream's fallback).
      const url = new URL(req.url.href);
      url.protocol = 'http:';
      const headers = new Map(req.headers);
      headers.delete('Authorization');
      try {
        await httpGet({ ...req, url, urlText: req.urlText.replace(/^https:/, 'http:'), headers }, HTTP_HOOK_LIMIT_SECONDS, signal);
      } catch {
        return err.message;
      }
      this.options.recorder?.event(podRef(pod), 'Warning', LIFECYCLE_HTTP_FALLBACK, `request to HTTPS lifecycle hook ${url.host} got HTTP response, retry with HTTP succeeded`);
      return undefined;
    }
  }

  /**
   * The postStart step of upstream startContainer: runs the hook; on failure records `FailedPostStartHook`
   * ("PostStartHook failed": the details stay out of events, they may hold secrets) and returns the message.
   * The kubelet then kills the container (reason FailedPostStartHook) and reports `PostStartHookError` with it.
   */
  async runPostStartHook(pod: Pod, container: Container, containerId: string, signal?: AbortSignal): Promise<string | undefined> {
    const handler = container.lifecycle?.postStart;
    if (!handler) return undefined;
    const msg = await this.run(pod, container, containerId, handler, signal);
    if (msg !== undefined) this.options.recorder?.event(containerRef(pod, container.name), 'Warning', FAILED_POST_START_HOOK, 'PostStartHook failed');
    return msg;
  }

  /**
   * Upstream executePreStopHook: runs the preStop hook but waits at most `gracePeriodSeconds`; a failure
   * records `FailedPreStopHook` ("PreStopHook failed"). Returns the seconds spent (whole seconds, rounded
   * down), which the kubelet subtracts from the grace period left for the stop signal.
   */
  async runPreStopHook(pod: Pod, container: Container, containerId: string, gracePeriodSeconds: number, signal?: AbortSignal): Promise<number> {
    const handler = container.lifecycle?.preStop;
    if (!handler) return 0;
    const start = this.clock.now();
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const hook = this.run(pod, container, containerId, handler, stop.signal).then((msg) => {
      if (msg !== undefined) {
        log.info({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, container: container.name, msg }, 'preStop hook failed');
        this.options.recorder?.event(containerRef(pod, container.name), 'Warning', FAILED_PRE_STOP_HOOK, 'PreStopHook failed');
      }
    });
    const timeout = new AbortController();
    try {
      await Promise.race([hook, sleep(gracePeriodSeconds * 1000, timeout.signal, this.clock).catch(() => undefined)]);
    } finally {
      timeout.abort();
      // A hook still running after the grace period goes on by itself, as upstream's goroutine does; only the
      // caller's signal ends it.
      void hook.finally(() => signal?.removeEventListener('abort', onAbort));
    }
    return Math.floor((this.clock.now() - start) / 1000);
  }
}

/** One-shot form of `HandlerRunner.run`. */
export function runHandler(options: HandlerRunnerOptions, pod: Pod, container: Container, containerId: string, handler: LifecycleHandler, signal?: AbortSignal): Promise<string | undefined> {
  return new HandlerRunner(options).run(pod, container, containerId, handler, signal);
}
