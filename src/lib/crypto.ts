import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Encryption of secrets the server must read back (webhook signing secrets, instance
 * credentials): AES-256-GCM with the ENCRYPTION_KEY of the config. A sealed value is
 * `v1:<iv>:<tag>:<ciphertext>` (base64url parts); the version names the format and key, so a later
 * key rotation can add `v2` and still open old values. The `context` is authenticated, not
 * stored: a value sealed for one purpose (or owner) does not open as another's.
 */

export const ENCRYPTION_KEY_BYTES = 32;
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretBox {
  seal: (plaintext: string, context: string) => string;
  /** Throws when the value was altered, sealed with another key or for another context. */
  open: (sealed: string, context: string) => string;
}

/** A new random key, as ENCRYPTION_KEY expects it (`openssl rand -base64 32` makes the same). */
export const generateEncryptionKey = () => randomBytes(ENCRYPTION_KEY_BYTES).toString('base64');

/** The key's bytes, or undefined when the text is not base64 (or base64url) of exactly 32 bytes. */
export function decodeEncryptionKey(text: string): Buffer | undefined {
  const normalized = text.trim().replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]+$/.test(normalized)) return undefined;
  const key = Buffer.from(normalized, 'base64');
  return key.length === ENCRYPTION_KEY_BYTES ? key : undefined;
}

export function createSecretBox(encryptionKey: string): SecretBox {
  const key = decodeEncryptionKey(encryptionKey);
  if (!key) throw new Error(`The encryption key must be base64 of ${ENCRYPTION_KEY_BYTES} bytes`);
  return {
    seal: (plaintext, context) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, iv, cipher.getAuthTag(), data].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join(':');
    },
    open: (sealed, context) => {
      const [version, iv, tag, data, ...rest] = sealed.split(':');
      if (version !== VERSION || iv === undefined || tag === undefined || data === undefined || rest.length > 0) throw new Error('Not a sealed value of a known version');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
