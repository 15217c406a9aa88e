// The one error the patch functions throw. Its code says which Kubernetes Status the API server
// answers with; its message is upstream's wire text; `detail` keeps the underlying cause for logs.
import type { Status, StatusCause } from 'kubernetes-types/meta/v1.js';

export type PatchErrorCode = 'BadRequest' | 'Invalid' | 'Conflict' | 'UnprocessableEntity' | 'RequestEntityTooLarge';

const HTTP_STATUS: Record<PatchErrorCode, number> = {
  BadRequest: 400,
  Invalid: 422,
  Conflict: 409,
  UnprocessableEntity: 422,
  RequestEntityTooLarge: 413,
};

/** Upstream answers a bare 422 with reason Invalid (NewGenericServerResponse(422, …)). */
const STATUS_REASON: Record<PatchErrorCode, string> = {
  BadRequest: 'BadRequest',
  Invalid: 'Invalid',
  Conflict: 'Conflict',
  UnprocessableEntity: 'Invalid',
  RequestEntityTooLarge: 'RequestEntityTooLarge',
};

/** The text upstream sends for every JSON-patch failure while applying: the cause is not returned. */
export const UNPROCESSABLE_MESSAGE = 'the server rejected our request due to an error in our request';

export class PatchError extends Error {
  override readonly name = 'PatchError';
  constructor(
    readonly code: PatchErrorCode,
    message: string,
    /** The underlying cause (the JSON-patch library's or the merge's own words); may equal message. */
    readonly detail: string = message,
    readonly causes?: readonly StatusCause[],
  ) {
    super(message);
  }

  /** The HTTP status code of the Status this error becomes. */
  get status(): number {
    return HTTP_STATUS[this.code];
  }

  /** The Status `reason` upstream uses. */
  get reason(): string {
    return STATUS_REASON[this.code];
  }

  toStatus(): Status {
    const s: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.status,
    };
    if (this.causes) s.details = { causes: [...this.causes] };
    return s;
  }
}

export const badRequest = (message: string): PatchError => new PatchError('BadRequest', message);

/** A 422 whose wire message is upstream's generic one; the cause stays in `detail`. */
export const unprocessable = (detail: string): PatchError => new PatchError('UnprocessableEntity', UNPROCESSABLE_MESSAGE, detail);

/**
 * The 422 upstream returns when the patched document does not decode into the object:
 * `NewInvalid(GroupKind{}, "", [field.Invalid("patch", <patched JSON>, <decode error>)])`.
 */
export function invalidPatchResult(patchedJson: string, why: string): PatchError {
  return new PatchError('Invalid', ` "" is invalid: patch: Invalid value: ${JSON.stringify(patchedJson)}: ${why}`, why);
}
