// Typed PKI failures: each has a stable code, a one-line cause in the message, and where it helps, the fix.

export type PKIErrorCode =
  /** Text that should hold PEM blocks of a kind holds none, or a block is damaged. */
  | 'InvalidPEM'
  /** A key of a type or size we do not sign with (only ECDSA P-256 and RSA 2048/3072/4096). */
  | 'UnsupportedKey'
  /** A certificate and the key next to it do not belong together. */
  | 'KeyMismatch'
  /** A certificate used as an issuer is not a CA (no basicConstraints CA:TRUE or no keyCertSign). */
  | 'NotCA'
  /** A certificate signing request whose signature does not verify, or that cannot be parsed. */
  | 'InvalidCSR'
  /** A key usage name that certificates.k8s.io does not define, or a request with none. */
  | 'UnsupportedUsage'
  /** A subject alternative name that is neither an IP address nor an RFC 1123 DNS name. */
  | 'InvalidSAN'
  /** One file of a pair exists without the other (cert without key, key without cert). */
  | 'PartialFiles'
  /** A kubeconfig that does not parse, or whose current context points nowhere. */
  | 'InvalidKubeconfig';

export class PKIError extends Error {
  override readonly name = 'PKIError';
  constructor(
    readonly code: PKIErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isPKIError(err: unknown, code?: PKIErrorCode): err is PKIError {
  return err instanceof PKIError && (code === undefined || err.code === code);
}
