// The one logger: pino, structured JSON on stderr, one child per component.
import { pino, type Logger } from 'pino';

const root: Logger = pino(
  { level: process.env.K8TS_LOG_LEVEL ?? 'info', base: { pid: process.pid } },
  pino.destination({ fd: 2, sync: false }),
);

export function logger(component: string): Logger {
  return root.child({ component });
}

export type { Logger };
