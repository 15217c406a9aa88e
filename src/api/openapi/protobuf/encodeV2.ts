// The Swagger 2.0 document as gnostic's `openapi.v2.Document` protobuf message, the form kubectl
// (through kube-openapi) asks /openapi/v2 for. Each message is a table of (field number, JSON key,
// writer) in field-number order, mirroring openapiv2/OpenAPIv2.proto of google/gnostic.
import { ProtoWriter } from './protoWriter.js';

type JsonObject = Readonly<Record<string, unknown>>;

/** Writes one JSON value as field `field` of the message being written; values of the wrong JSON type write nothing. */
type FieldWriter = (w: ProtoWriter, field: number, value: unknown) => void;

/** The JSON key `EXTENSIONS` stands for every "x-" key of the object (gnostic's vendor_extension). */
const EXTENSIONS = 'x-*';
type FieldTable = readonly (readonly [field: number, key: string, write: FieldWriter])[];

/**
 * Encodes a Swagger 2.0 document (as openapiV2 builds it) as gnostic's OpenAPI v2 `Document`.
 *
 * Deterministic: fields in field-number order, map-like objects (paths, definitions, properties,
 * responses…) as ordered name/value lists in the JSON object's key order. Values of `default`,
 * `enum`, `example` and every `x-` extension travel as `Any.yaml` holding their JSON text, which
 * is YAML too and what kube-openapi unmarshals. Keys the schema has no field for are dropped
 * (gnostic would reject such a document), and so are values of the wrong JSON type: OpenAPI v3
 * keywords a custom resource schema may carry (nullable, oneOf, anyOf, not) do not reach the
 * protobuf form, as upstream strips them from its v2 document too.
 */
export function encodeOpenAPIV2Protobuf(doc: object): Buffer {
  const w = new ProtoWriter();
  writeFields(w, doc as JsonObject, DOCUMENT);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Scalars and generic shapes

function asObject(v: unknown): JsonObject | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

const string: FieldWriter = (w, field, v) => {
  if (typeof v === 'string') w.string(field, v);
};
const strings: FieldWriter = (w, field, v) => {
  if (Array.isArray(v)) w.strings(field, v.filter((s): s is string => typeof s === 'string'));
};
const bool: FieldWriter = (w, field, v) => {
  if (typeof v === 'boolean') w.bool(field, v);
};
const int64: FieldWriter = (w, field, v) => {
  if (typeof v === 'number') w.int64(field, v);
};
const double: FieldWriter = (w, field, v) => {
  if (typeof v === 'number') w.double(field, v);
};

/**
 * A value as YAML for `Any.yaml`: its JSON text, with the few characters escaped that JSON allows
 * raw but YAML parsers reject or rewrite (C1 controls, line/paragraph separators, BOM, non-characters).
 */
function yamlText(v: unknown): string | undefined {
  const json = JSON.stringify(v);
  return json?.replace(/[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** openapi.v2.Any: only `yaml` (2); `value` (1, a google.protobuf.Any) stays empty, as in gnostic's own documents. */
const anyValue: FieldWriter = (w, field, v) => {
  const yaml = v === undefined ? undefined : yamlText(v);
  if (yaml !== undefined) w.message(field, (m) => m.string(2, yaml));
};

function repeated(write: FieldWriter): FieldWriter {
  return (w, field, v) => {
    if (Array.isArray(v)) for (const item of v) write(w, field, item);
  };
}

/**
 * A message with the given fields, written when the value is a JSON object (even an empty one).
 * The table is built on first use, so that recursive messages can refer to themselves.
 */
function message(table: () => FieldTable): FieldWriter {
  let fields: FieldTable | undefined;
  return (w, field, v) => {
    const o = asObject(v);
    if (o) w.message(field, (m) => writeFields(m, o, (fields ??= table())));
  };
}

function writeFields(w: ProtoWriter, o: JsonObject, table: FieldTable): void {
  for (const [field, key, write] of table) write(w, field, key === EXTENSIONS ? o : o[key]);
}

/** The Named<T> pairs (name = 1, value = 2) of the given keys, each as repeated field `field`. */
function writeNamed(w: ProtoWriter, field: number, o: JsonObject, keys: readonly string[], write: FieldWriter): void {
  for (const name of keys) {
    w.message(field, (entry) => {
      entry.string(1, name);
      write(entry, 2, o[name]);
    });
  }
}

const isExtension = (key: string) => key.startsWith('x-');

/** repeated NamedAny vendor_extension: the object's "x-" keys. */
const vendorExtensions: FieldWriter = (w, field, v) => {
  const o = asObject(v);
  if (o) writeNamed(w, field, o, Object.keys(o).filter(isExtension), anyValue);
};

/** A map message `{ repeated Named<T> additional_properties = 1; }` (Definitions, Properties, Oauth2Scopes…). */
function namedMap(write: FieldWriter): FieldWriter {
  return (w, field, v) => {
    const o = asObject(v);
    if (o) w.message(field, (m) => writeNamed(m, 1, o, Object.keys(o), write));
  };
}

// ---------------------------------------------------------------------------------------------
// Schema

/** openapi.v2.Schema. */
const schema: FieldWriter = message(() => SCHEMA);

/** TypeItem { repeated string value = 1 }: "type" may be one name or a list. */
const typeItem: FieldWriter = (w, field, v) => {
  const types = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
  if (types) w.message(field, (m) => strings(m, 1, types));
};

/** ItemsItem { repeated Schema schema = 1 }: "items" may be one schema or a list (tuple). */
const itemsItem: FieldWriter = (w, field, v) => {
  const items = Array.isArray(v) ? v : asObject(v) ? [v] : undefined;
  if (items) w.message(field, (m) => repeated(schema)(m, 1, items));
};

/** AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }: false is written too. */
const additionalPropertiesItem: FieldWriter = (w, field, v) => {
  if (typeof v === 'boolean') w.message(field, (m) => m.oneofBool(2, v));
  else if (asObject(v)) w.message(field, (m) => schema(m, 1, v));
};

const externalDocs = message(() => [
  [1, 'description', string],
  [2, 'url', string],
  [3, EXTENSIONS, vendorExtensions],
]);

const xml = message(() => [
  [1, 'name', string],
  [2, 'namespace', string],
  [3, 'prefix', string],
  [4, 'attribute', bool],
  [5, 'wrapped', bool],
  [6, EXTENSIONS, vendorExtensions],
]);

const SCHEMA: FieldTable = [
  [1, '$ref', string],
  [2, 'format', string],
  [3, 'title', string],
  [4, 'description', string],
  [5, 'default', anyValue],
  [6, 'multipleOf', double],
  [7, 'maximum', double],
  [8, 'exclusiveMaximum', bool],
  [9, 'minimum', double],
  [10, 'exclusiveMinimum', bool],
  [11, 'maxLength', int64],
  [12, 'minLength', int64],
  [13, 'pattern', string],
  [14, 'maxItems', int64],
  [15, 'minItems', int64],
  [16, 'uniqueItems', bool],
  [17, 'maxProperties', int64],
  [18, 'minProperties', int64],
  [19, 'required', strings],
  [20, 'enum', repeated(anyValue)],
  [21, 'additionalProperties', additionalPropertiesItem],
  [22, 'type', typeItem],
  [23, 'items', itemsItem],
  [24, 'allOf', repeated(schema)],
  [25, 'properties', namedMap(schema)],
  [26, 'discriminator', string],
  [27, 'readOnly', bool],
  [28, 'xml', xml],
  [29, 'externalDocs', externalDocs],
  [30, 'example', anyValue],
  [31, EXTENSIONS, vendorExtensions],
];

const fileSchema = message(() => [
  [1, 'format', string],
  [2, 'title', string],
  [3, 'description', string],
  [4, 'default', anyValue],
  [5, 'required', strings],
  [6, 'type', string],
  [7, 'readOnly', bool],
  [8, 'externalDocs', externalDocs],
  [9, 'example', anyValue],
  [10, EXTENSIONS, vendorExtensions],
]);

/** SchemaItem { oneof { Schema schema = 1; FileSchema file_schema = 2; } }: a response's schema. */
const schemaItem: FieldWriter = (w, field, v) => {
  const o = asObject(v);
  if (!o) return;
  w.message(field, (m) => (o['type'] === 'file' ? fileSchema(m, 2, o) : schema(m, 1, o)));
};

// ---------------------------------------------------------------------------------------------
// Parameters

/**
 * The validation keywords of non-body parameters, PrimitivesItems and Header, in their shared
 * order: every one of those messages numbers them consecutively, only from a different start.
 */
const PRIMITIVE_KEYWORDS: readonly (readonly [key: string, write: FieldWriter])[] = [
  ['type', string],
  ['format', string],
  ['items', (w, f, v) => primitivesItems(w, f, v)],
  ['collectionFormat', string],
  ['default', anyValue],
  ['maximum', double],
  ['exclusiveMaximum', bool],
  ['minimum', double],
  ['exclusiveMinimum', bool],
  ['maxLength', int64],
  ['minLength', int64],
  ['pattern', string],
  ['maxItems', int64],
  ['minItems', int64],
  ['uniqueItems', bool],
  ['enum', repeated(anyValue)],
  ['multipleOf', double],
];

function primitiveKeywordsFrom(first: number): FieldTable {
  return PRIMITIVE_KEYWORDS.map(([key, write], i) => [first + i, key, write] as const);
}

/** PrimitivesItems: keywords 1–17, vendor_extension 18. */
const primitivesItems: FieldWriter = message(() => PRIMITIVES_ITEMS);
const PRIMITIVES_ITEMS: FieldTable = [...primitiveKeywordsFrom(1), [18, EXTENSIONS, vendorExtensions]];

/** Header (of a response): keywords 1–17, description 18, vendor_extension 19. */
const header = message(() => [...primitiveKeywordsFrom(1), [18, 'description', string], [19, EXTENSIONS, vendorExtensions]]);

/** Query and FormData parameters: required, in, description, name, allowEmptyValue (5), keywords 6–22, vendor_extension 23. */
const QUERY_OR_FORM_DATA_PARAMETER: FieldTable = [
  [1, 'required', bool],
  [2, 'in', string],
  [3, 'description', string],
  [4, 'name', string],
  [5, 'allowEmptyValue', bool],
  ...primitiveKeywordsFrom(6),
  [23, EXTENSIONS, vendorExtensions],
];

/** Header and Path parameters: as query ones without allowEmptyValue, so keywords 5–21, vendor_extension 22. */
const HEADER_OR_PATH_PARAMETER: FieldTable = [
  [1, 'required', bool],
  [2, 'in', string],
  [3, 'description', string],
  [4, 'name', string],
  ...primitiveKeywordsFrom(5),
  [22, EXTENSIONS, vendorExtensions],
];

const bodyParameter = message(() => [
  [1, 'description', string],
  [2, 'name', string],
  [3, 'in', string],
  [4, 'required', bool],
  [5, 'schema', schema],
  [6, EXTENSIONS, vendorExtensions],
]);

/** NonBodyParameter's oneof: which sub-schema message (and field) each "in" value selects. */
const NON_BODY_PARAMETER: Readonly<Record<string, readonly [field: number, table: FieldTable]>> = {
  header: [1, HEADER_OR_PATH_PARAMETER],
  formData: [2, QUERY_OR_FORM_DATA_PARAMETER],
  query: [3, QUERY_OR_FORM_DATA_PARAMETER],
  path: [4, HEADER_OR_PATH_PARAMETER],
};

/** Parameter { oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; } }. */
const parameter: FieldWriter = (w, field, v) => {
  const o = asObject(v);
  const location = o?.['in'];
  if (!o || typeof location !== 'string') return;
  if (location === 'body') return w.message(field, (m) => bodyParameter(m, 1, o));
  const variant = NON_BODY_PARAMETER[location];
  if (!variant) return;
  const [subField, table] = variant;
  w.message(field, (m) => m.message(2, (nonBody) => nonBody.message(subField, (sub) => writeFields(sub, o, table))));
};

/** JsonReference { string _ref = 1; string description = 2; }. */
const jsonReference = message(() => [
  [1, '$ref', string],
  [2, 'description', string],
]);

/** ParametersItem { oneof { Parameter parameter = 1; JsonReference json_reference = 2; } }. */
const parametersItem: FieldWriter = (w, field, v) => {
  const o = asObject(v);
  if (!o) return;
  w.message(field, (m) => (typeof o['$ref'] === 'string' ? jsonReference(m, 2, o) : parameter(m, 1, o)));
};

// ---------------------------------------------------------------------------------------------
// Paths, operations, responses

const response = message(() => [
  [1, 'description', string],
  [2, 'schema', schemaItem],
  [3, 'headers', namedMap(header)],
  [4, 'examples', namedMap(anyValue)],
  [5, EXTENSIONS, vendorExtensions],
]);

/** ResponseValue { oneof { Response response = 1; JsonReference json_reference = 2; } }. */
const responseValue: FieldWriter = (w, field, v) => {
  const o = asObject(v);
  if (!o) return;
  w.message(field, (m) => (typeof o['$ref'] === 'string' ? jsonReference(m, 2, o) : response(m, 1, o)));
};

/** Responses { repeated NamedResponseValue response_code = 1; repeated NamedAny vendor_extension = 2; }. */
const responses: FieldWriter = (w, field, v) => {
  const o = asObject(v);
  if (!o) return;
  w.message(field, (m) => {
    writeNamed(m, 1, o, Object.keys(o).filter((k) => !isExtension(k)), responseValue);
    vendorExtensions(m, 2, o);
  });
};

/** SecurityRequirement { repeated NamedStringArray additional_properties = 1; }, StringArray { repeated string value = 1; }. */
const stringArray: FieldWriter = (w, field, v) => {
  if (Array.isArray(v)) w.message(field, (m) => strings(m, 1, v));
};
const securityRequirements = repeated(namedMap(stringArray));

const operation = message(() => [
  [1, 'tags', strings],
  [2, 'summary', string],
  [3, 'description', string],
  [4, 'externalDocs', externalDocs],
  [5, 'operationId', string],
  [6, 'produces', strings],
  [7, 'consumes', strings],
  [8, 'parameters', repeated(parametersItem)],
  [9, 'responses', responses],
  [10, 'schemes', strings],
  [11, 'deprecated', bool],
  [12, 'security', securityRequirements],
  [13, EXTENSIONS, vendorExtensions],
]);

const pathItem = message(() => [
  [1, '$ref', string],
  [2, 'get', operation],
  [3, 'put', operation],
  [4, 'post', operation],
  [5, 'delete', operation],
  [6, 'options', operation],
  [7, 'head', operation],
  [8, 'patch', operation],
  [9, 'parameters', repeated(parametersItem)],
  [10, EXTENSIONS, vendorExtensions],
]);

/** Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2; }. */
const paths: FieldWriter = (w, field, v) => {
  const o = asObject(v);
  if (!o) return;
  w.message(field, (m) => {
    vendorExtensions(m, 1, o);
    writeNamed(m, 2, o, Object.keys(o).filter((k) => !isExtension(k)), pathItem);
  });
};

// ---------------------------------------------------------------------------------------------
// Document, info, security definitions

const info = message(() => [
  [1, 'title', string],
  [2, 'version', string],
  [3, 'description', string],
  [4, 'termsOfService', string],
  [
    5,
    'contact',
    message(() => [
      [1, 'name', string],
      [2, 'url', string],
      [3, 'email', string],
      [4, EXTENSIONS, vendorExtensions],
    ]),
  ],
  [
    6,
    'license',
    message(() => [
      [1, 'name', string],
      [2, 'url', string],
      [3, EXTENSIONS, vendorExtensions],
    ]),
  ],
  [7, EXTENSIONS, vendorExtensions],
]);

const tag = message(() => [
  [1, 'name', string],
  [2, 'description', string],
  [3, 'externalDocs', externalDocs],
  [4, EXTENSIONS, vendorExtensions],
]);

const oauth2Scopes = namedMap(string);

/** SecurityDefinitionsItem's oneof: the field and message layout for each type (and, for oauth2, flow). */
const SECURITY_SCHEMES: Readonly<Record<string, readonly [field: number, table: FieldTable]>> = {
  basic: [
    1,
    [
      [1, 'type', string],
      [2, 'description', string],
      [3, EXTENSIONS, vendorExtensions],
    ],
  ],
  apiKey: [
    2,
    [
      [1, 'type', string],
      [2, 'name', string],
      [3, 'in', string],
      [4, 'description', string],
      [5, EXTENSIONS, vendorExtensions],
    ],
  ],
  'oauth2/implicit': [
    3,
    [
      [1, 'type', string],
      [2, 'flow', string],
      [3, 'scopes', oauth2Scopes],
      [4, 'authorizationUrl', string],
      [5, 'description', string],
      [6, EXTENSIONS, vendorExtensions],
    ],
  ],
  'oauth2/password': [4, oauth2TokenFlow()],
  'oauth2/application': [5, oauth2TokenFlow()],
  'oauth2/accessCode': [
    6,
    [
      [1, 'type', string],
      [2, 'flow', string],
      [3, 'scopes', oauth2Scopes],
      [4, 'authorizationUrl', string],
      [5, 'tokenUrl', string],
      [6, 'description', string],
      [7, EXTENSIONS, vendorExtensions],
    ],
  ],
};

/** Oauth2PasswordSecurity and Oauth2ApplicationSecurity share one layout. */
function oauth2TokenFlow(): FieldTable {
  return [
    [1, 'type', string],
    [2, 'flow', string],
    [3, 'scopes', oauth2Scopes],
    [4, 'tokenUrl', string],
    [5, 'description', string],
    [6, EXTENSIONS, vendorExtensions],
  ];
}

const securityDefinitionsItem: FieldWriter = (w, field, v) => {
  const o = asObject(v);
  if (!o) return;
  const key = o['type'] === 'oauth2' ? `oauth2/${String(o['flow'])}` : String(o['type']);
  const scheme = SECURITY_SCHEMES[key];
  if (!scheme) return;
  const [subField, table] = scheme;
  w.message(field, (m) => m.message(subField, (sub) => writeFields(sub, o, table)));
};

const DOCUMENT: FieldTable = [
  [1, 'swagger', string],
  [2, 'info', info],
  [3, 'host', string],
  [4, 'basePath', string],
  [5, 'schemes', strings],
  [6, 'consumes', strings],
  [7, 'produces', strings],
  [8, 'paths', paths],
  [9, 'definitions', namedMap(schema)],
  [10, 'parameters', namedMap(parameter)],
  [11, 'responses', namedMap(response)],
  [12, 'security', securityRequirements],
  [13, 'securityDefinitions', namedMap(securityDefinitionsItem)],
  [14, 'tags', repeated(tag)],
  [15, 'externalDocs', externalDocs],
  [16, EXTENSIONS, vendorExtensions],
];
