// Turns a decoded openapi.v2 message back into Swagger 2.0 JSON, driven by the declared schema, so
// tests can compare a whole encoded document with the JSON it came from. Any.yaml is read as YAML
// 1.1, the dialect of gopkg.in/yaml.v2 that kube-openapi reads it with.
import protobuf from 'protobufjs';
import YAML from 'yaml';
import { messageType, type Decoded } from './openapiV2Proto.js';

/** Messages that are a oneof and nothing else: they stand for whichever member is set. */
const ONEOFS = new Set([
  'AdditionalPropertiesItem',
  'NonBodyParameter',
  'Parameter',
  'ParametersItem',
  'ResponseValue',
  'SchemaItem',
  'SecurityDefinitionsItem',
]);

const jsonKey = (field: string) => (field === '_ref' ? '$ref' : field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));

function asDecoded(v: unknown): Decoded {
  return v as Decoded;
}

function fieldValue(field: protobuf.Field, v: unknown): unknown {
  field.resolve();
  const type = field.resolvedType;
  const one = (x: unknown) => (type instanceof protobuf.Type ? fromMessage(type, asDecoded(x)) : x);
  return field.repeated ? (v as unknown[]).map(one) : one(v);
}

/** A repeated Named<T> field as a JSON object, in wire order. */
function namedPairs(field: protobuf.Field, list: unknown): Record<string, unknown> {
  field.resolve();
  const entryType = field.resolvedType as protobuf.Type;
  const valueField = entryType.fields['value']!;
  const out: Record<string, unknown> = {};
  for (const entry of (list as Decoded[] | undefined) ?? []) {
    out[String(entry['name'] ?? '')] = entry['value'] === undefined ? undefined : fieldValue(valueField, entry['value']);
  }
  return out;
}

export function fromMessage(type: protobuf.Type, m: Decoded): unknown {
  const fields = type.fields;
  switch (type.name) {
    case 'Any':
      return YAML.parse(String(m['yaml'] ?? ''), { version: '1.1' });
    case 'TypeItem': {
      const names = (m['value'] as string[] | undefined) ?? [];
      return names.length === 1 ? names[0] : names;
    }
    case 'ItemsItem': {
      const items = fieldValue(fields['schema']!, m['schema'] ?? []) as unknown[];
      return items.length === 1 ? items[0] : items;
    }
    case 'StringArray':
      return m['value'] ?? [];
    case 'Paths':
      return { ...namedPairs(fields['path']!, m['path']), ...namedPairs(fields['vendor_extension']!, m['vendor_extension']) };
    case 'Responses':
      return { ...namedPairs(fields['response_code']!, m['response_code']), ...namedPairs(fields['vendor_extension']!, m['vendor_extension']) };
  }
  if (ONEOFS.has(type.name)) {
    const set = Object.keys(m);
    if (set.length !== 1) throw new Error(`${type.name} has ${set.length} members set: ${set.join(', ')}`);
    return fieldValue(fields[set[0]!]!, m[set[0]!]);
  }
  if (type.fieldsArray.length === 1 && fields['additional_properties']) return namedPairs(fields['additional_properties'], m['additional_properties']);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(m)) {
    const field = fields[key];
    if (!field) throw new Error(`${type.name}.${key} is not declared`);
    if (key === 'vendor_extension') Object.assign(out, namedPairs(field, v));
    else out[jsonKey(key)] = fieldValue(field, v);
  }
  return out;
}

/** The Swagger JSON a decoded Document stands for. */
export function swaggerFromDocument(m: Decoded): unknown {
  return fromMessage(messageType('Document'), m);
}
