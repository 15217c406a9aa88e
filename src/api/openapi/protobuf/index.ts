// The OpenAPI v2 document in gnostic's protobuf form (openapi.v2.Document), which kubectl and
// client-go ask /openapi/v2 for, falling back to /swagger-2.0.0.pb-v1 on 406.
export { encodeOpenAPIV2Protobuf } from './encodeV2.js';
export { openapiV2Protobuf, type CachedProtobufDocument } from './openapiV2Protobuf.js';
export { OPENAPI_V2_PROTOBUF_CONTENT_TYPE, openapiV2FormatFor, type OpenAPIV2Format } from './openapiV2Format.js';
