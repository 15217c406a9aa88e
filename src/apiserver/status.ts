// Every API failure is a StatusError that maps 1:1 to a Kubernetes `Status` object, with
// upstream's code, reason and message wording.
import type { Status, StatusCause } from 'kubernetes-types/meta/v1.js';

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'ServerTimeout'
  | 'Timeout'
  | 'TooManyRequests'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'InternalError'
  | 'Expired'
  | 'ServiceUnavailable';

export interface GroupResource {
  group: string;
  resource: string;
}

export class StatusError extends Error {
  override readonly name = 'StatusError';
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: Status['details'],
  ) {
    super(message);
  }

  toStatus(): Status {
    const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
    if (this.details) s.details = this.details;
    return s;
  }
}

/** `pods` or `deployments.apps`, as upstream's GroupResource prints. */
export function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

function details(gr: GroupResource, name?: string): NonNullable<Status['details']> {
  const d: NonNullable<Status['details']> = { kind: gr.resource };
  if (name !== undefined) d.name = name;
  if (gr.group) d.group = gr.group;
  return d;
}

export const notFound = (gr: GroupResource, name: string): StatusError =>
  new StatusError(404, 'NotFound', `${qualified(gr)} "${name}" not found`, details(gr, name));

export const alreadyExists = (gr: GroupResource, name: string): StatusError =>
  new StatusError(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, details(gr, name));

export const conflict = (gr: GroupResource, name: string, why: string): StatusError =>
  new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, details(gr, name));

export const OBJECT_MODIFIED = 'the object has been modified; please apply your changes to the latest version and try again';

/** 422 with field causes: `Pod "x" is invalid: spec.containers: Required value`. */
export function invalid(kind: string, group: string, name: string, causes: FieldError[]): StatusError {
  const texts = causes.map((c) => c.toString());
  const summary = texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
  const d: NonNullable<Status['details']> = { name, kind, causes: causes.map((c) => c.toCause()) };
  if (group) d.group = group;
  return new StatusError(422, 'Invalid', `${kind} "${name}" is invalid: ${summary}`, d);
}

export const badRequest = (message: string): StatusError => new StatusError(400, 'BadRequest', message);

export const methodNotAllowed = (): StatusError =>
  new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

export const notAcceptable = (accepted: string[]): StatusError =>
  new StatusError(406, 'NotAcceptable', `only the following media types are accepted: ${accepted.join(', ')}`);

export const unsupportedMediaType = (contentType: string, accepted: string[]): StatusError =>
  new StatusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}${contentType ? '' : ''}`,
  );

export const requestEntityTooLarge = (limit: number): StatusError =>
  new StatusError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);

export const expired = (message: string): StatusError => new StatusError(410, 'Expired', message);

export const unauthorized = (): StatusError => new StatusError(401, 'Unauthorized', 'Unauthorized');

export const forbidden = (message: string): StatusError => new StatusError(403, 'Forbidden', message);

export const serviceUnavailable = (message: string): StatusError => new StatusError(503, 'ServiceUnavailable', message);

export const internalError = (message: string): StatusError =>
  new StatusError(500, 'InternalError', `Internal error occurred: ${message}`);

export const timeout = (message: string): StatusError => new StatusError(504, 'Timeout', message);

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueTypeInvalid'
  | 'InternalError';

const FIELD_ERROR_TEXT: Record<FieldErrorType, string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  FieldValueTypeInvalid: 'Invalid value',
  InternalError: 'Internal error',
};

/** One field problem, printed as upstream's field.Error: `spec.replicas: Invalid value: -1: must be greater than or equal to 0`. */
export class FieldError {
  constructor(
    readonly type: FieldErrorType,
    readonly field: string,
    readonly detail = '',
    readonly value?: unknown,
    readonly hasValue = false,
  ) {}

  toString(): string {
    let s = `${this.field}: ${FIELD_ERROR_TEXT[this.type]}`;
    if (this.hasValue) s += `: ${formatValue(this.value)}`;
    if (this.detail) s += `: ${this.detail}`;
    return s;
  }

  toCause(): StatusCause {
    const text = this.toString();
    return { reason: this.type, message: text.slice(this.field.length + 2), field: this.field };
  }
}

export const required = (field: string, detail = ''): FieldError => new FieldError('FieldValueRequired', field, detail);
export const invalidValue = (field: string, value: unknown, detail: string): FieldError =>
  new FieldError('FieldValueInvalid', field, detail, value, true);
export const notSupported = (field: string, value: unknown, supported: string[]): FieldError =>
  new FieldError('FieldValueNotSupported', field, `supported values: ${supported.map((s) => `"${s}"`).join(', ')}`, value, true);
export const forbiddenField = (field: string, detail: string): FieldError => new FieldError('FieldValueForbidden', field, detail);
export const duplicate = (field: string, value: unknown): FieldError => new FieldError('FieldValueDuplicate', field, '', value, true);
export const internalFieldError = (field: string, detail: string): FieldError => new FieldError('InternalError', field, detail);
export const tooLong = (field: string, max: number): FieldError =>
  new FieldError('FieldValueTooLong', field, `may not be more than ${max} bytes`);

/** A bad value printed verbatim, for values Go prints with %#v (`[]string{"10.0.0.5"}`). */
export class GoLiteral {
  constructor(readonly text: string) {}
  toJSON(): string {
    return this.text;
  }
}
export const goLiteral = (text: string): GoLiteral => new GoLiteral(text);

function formatValue(v: unknown): string {
  if (v instanceof GoLiteral) return v.text;
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
