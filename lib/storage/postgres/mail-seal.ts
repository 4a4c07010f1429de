// Sealing runner mail between instances (§22.2, §23): a launch frame carries the agent's session token, and a raw
// token must not sit in a table (or PostgreSQL's WAL) even for the moment it waits there.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** Turns mail into what the table holds, and back. */
export interface MailSeal {
  seal(text: string): string;
  open(stored: string): string;
}

/** No secret shared by the instances (a server without `MAESTRO_TOKEN`): mail is stored as it is. */
export const PLAIN: MailSeal = { seal: (text) => text, open: (stored) => stored };

/**
 * AES-256-GCM under a key derived from the secret every instance of a cluster shares (`MAESTRO_TOKEN`: a client
 * behind the load balancer must be accepted by each). Stored as `{"sealed":"<iv|tag|ciphertext, base64>"}`; a row
 * sealed under another key fails to open (an instance started with a different token).
 */
export function sealWith(secret: string): MailSeal {
  const key = Buffer.from(hkdfSync('sha256', secret, 'maestro', 'runner mail', 32));
  return {
    seal(text) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
      return JSON.stringify({ sealed: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64') });
    },
    open(stored) {
      const sealed = Buffer.from((JSON.parse(stored) as { sealed: string }).sealed, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
      decipher.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}
