import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalQuantity } from '../../../src/api/tables/index.js';

describe('canonicalQuantity', () => {
  const cases: Array<[string, string | number | undefined, string]> = [
    ['a missing quantity is Go’s zero, 0', undefined, '0'],
    ['zero with any suffix is 0', '0Gi', '0'],
    ['a plain integer stays', '512', '512'],
    ['a round thousand takes the k suffix', '1000', '1k'],
    ['1500 has no exact SI suffix above units', '1500', '1500'],
    ['a fraction becomes milli', '0.5', '500m'],
    ['milli stays milli', '100m', '100m'],
    ['1500m stays in milli', '1500m', '1500m'],
    ['a thousand milli is one', '1000m', '1'],
    ['binary suffixes stay binary', '10Gi', '10Gi'],
    ['1.5Gi is written in whole Mi', '1.5Gi', '1536Mi'],
    ['1024Mi is 1Gi', '1024Mi', '1Gi'],
    ['a binary amount under 1024 is written in decimal', '0.5Ki', '512'],
    ['a fractional binary amount is written in decimal', '1.5', '1500m'],
    ['a binary amount that is no power-of-1024 multiple has no suffix', '1.5Ki', '1536'],
    ['decimal exponents stay exponents', '2e3', '2e3'],
    ['decimal exponents are multiples of three', '1e4', '10e3'],
    ['a numeric JSON value is a quantity too', 2, '2'],
    ['finer than nano rounds up to nano', '0.0000000001', '1n'],
    ['negative amounts keep their sign', '-100m', '-100m'],
    ['text that is no quantity comes back unchanged', 'lots', 'lots'],
  ];
  for (const [name, input, want] of cases) it(name, () => assert.equal(canonicalQuantity(input), want));
});
