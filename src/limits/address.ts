const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:]+$/;

/**
 * One written form per network address, so a block or a window always meets the address a
 * request comes from: IPv4 as dotted decimal (IPv4-mapped IPv6 unwrapped), IPv6 lower-case and
 * grouped by its /64 (one client owns a /64 and can rotate inside it). Null when not an address.
 */
export function normalizeAddress(raw: string | undefined): string | null {
  if (!raw) return null;
  let text = raw.trim().toLowerCase();
  if (text.startsWith('::ffff:') && IPV4.test(text.slice(7))) text = text.slice(7);
  if (IPV4.test(text)) return text;
  if (!IPV6.test(text) || text.length > 39 || !text.includes(':') || (text.match(/::/g)?.length ?? 0) > 1) return null;
  const [head = '', tail = ''] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = text.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = text.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  if (groups.length !== 8 || groups.some((g) => g.length === 0 || g.length > 4)) return null;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
