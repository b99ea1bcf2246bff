import { customAlphabet } from 'nanoid';

/** API.md's pattern for saleId and userId. */
export const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

const RANDOM_LENGTH = 21;
const random = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', RANDOM_LENGTH);

function toBase64Url(ascii: string): string {
  return btoa(ascii).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string | null {
  try {
    return atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    return null;
  }
}

/**
 * Order and payment ids are opaque to callers but carry their sale, so a request that names only
 * the order still finds the sale's hash-tagged keys without a lookup: `<prefix>_<21 random>
 * <base64url(saleId)>`. 21 characters of 62 give ~125 bits of randomness.
 */
export function mintId(prefix: 'ord' | 'pay', saleId: string): string {
  return `${prefix}_${random()}${toBase64Url(saleId)}`;
}

/** The sale an id was minted for, or null when the id cannot be ours. */
export function saleOfId(prefix: 'ord' | 'pay', id: string): string | null {
  if (!id.startsWith(`${prefix}_`) || id.length > 140) return null;
  const random = id.slice(prefix.length + 1, prefix.length + 1 + RANDOM_LENGTH);
  if (!/^[0-9A-Za-z]{21}$/.test(random)) return null;
  const saleId = fromBase64Url(id.slice(prefix.length + 1 + RANDOM_LENGTH));
  return saleId !== null && ID_PATTERN.test(saleId) ? saleId : null;
}

/** A random nonce for payment tokens. */
export const mintNonce = (): string => random();
