import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * What the nodes of one fleet share and nobody else has: AES-256-GCM under a key derived from the
 * fleet secret. Registry values (session records with saved cookies and storage, node leases) are
 * stored sealed, so the JetStream files hold no plain text and a client without the secret can
 * neither read a record nor write one a node would adopt; node-to-node commands and their answers
 * are sealed too, so a node only obeys, and only believes, members. `aad` binds a sealed value to
 * where it belongs (a KV key, a request subject): it cannot be replayed elsewhere.
 */
export class FleetSeal {
  private readonly key: Buffer;

  constructor(secret: string | Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'castpool', 'castpool-fleet-seal-v1', 32));
  }

  /** A key no other process has: a node alone (the embedded nats-server) with no secret configured. */
  static ephemeral(): FleetSeal {
    return new FleetSeal(randomBytes(32));
  }

  seal(value: unknown, aad: string): Uint8Array {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  /** The value, or undefined when it was not sealed by this fleet for `aad` (forged, foreign, garbled). */
  open(data: Uint8Array, aad: string): unknown {
    if (data.length < 1 + IV_BYTES + TAG_BYTES || data[0] !== VERSION) return undefined;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(bytes.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(bytes.subarray(1 + IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]);
      return JSON.parse(plain.toString('utf8'));
    } catch {
      return undefined;
    }
  }
}
