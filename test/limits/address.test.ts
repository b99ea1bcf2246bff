import { describe, expect, it } from 'vitest';
import { normalizeAddress } from '../../src/limits/address.js';

describe('normalizeAddress', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    [' 203.0.113.7 ', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:203.0.113.7', '203.0.113.7'],
    ['2001:DB8:0:1:aaaa:bbbb:cccc:dddd', '2001:db8:0:1::/64'],
    ['2001:db8:0:1::5', '2001:db8:0:1::/64'],
    ['2001:0db8:0000:0001::', '2001:db8:0:1::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s -> %s', (raw, want) => expect(normalizeAddress(raw)).toBe(want));

  it.each(['', 'not-an-ip', '256.1.1.1', '01.2.3.4', '1.2.3', '1::2::3', '12345::1', 'g::1', '1:2:3:4:5:6:7:8:9'])(
    'refuses %s',
    (raw) => {
      expect(normalizeAddress(raw)).toBeNull();
    },
  );
});
