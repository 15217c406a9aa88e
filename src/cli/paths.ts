import { homedir } from 'node:os';
import { join } from 'node:path';

/** /var/lib/k8ts as root, ~/.k8ts otherwise. */
export function defaultDataDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/k8ts' : join(homedir(), '.k8ts');
}
