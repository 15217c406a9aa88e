// The one error the protobuf decoder throws. Every code answers 400 BadRequest, as upstream does for
// a request body it cannot decode; the code says why, for logs and tests.

export type ProtobufDecodeErrorCode =
  /** The body does not start with the 4 bytes `k8s\0`. */
  | 'BadMagic'
  /** A varint, length or field runs past the end of its message. */
  | 'Truncated'
  /** The envelope names an apiVersion/kind we have no message for. */
  | 'UnknownKind'
  /** A known field arrives with a wire type its proto type cannot have. */
  | 'WireTypeMismatch'
  /** Bytes that cannot be a value: a varint over 10 bytes, a group, bad embedded JSON, an impossible IntOrString… */
  | 'Malformed'
  /** Messages nested deeper than the decoder allows. */
  | 'TooDeep'
  /** The envelope says the object is compressed or not protobuf. */
  | 'UnsupportedEncoding';

export class ProtobufDecodeError extends Error {
  override readonly name = 'ProtobufDecodeError';
  constructor(
    readonly code: ProtobufDecodeErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The HTTP status of the Status this error becomes. */
  get status(): 400 {
    return 400;
  }

  /** The Status reason upstream uses for an undecodable body. */
  get reason(): 'BadRequest' {
    return 'BadRequest';
  }
}
