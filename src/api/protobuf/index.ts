// Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded into JSON objects.
export {
  decodeKubernetesProtobuf,
  decodeProtobufMessage,
  messageForKind,
  KUBERNETES_PROTOBUF_CONTENT_TYPE,
  KUBERNETES_PROTOBUF_MAGIC,
  type DecodedObject,
  type JsonObject,
  type JsonValue,
} from './decode.js';
export { ProtobufDecodeError, type ProtobufDecodeErrorCode } from './errors.js';
export { PROTOBUF_SCHEMA_VERSION } from './schema.generated.js';
