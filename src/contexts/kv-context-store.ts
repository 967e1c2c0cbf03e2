import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { FleetSeal } from '../nats/fleet-seal.js';
import { fits } from '../nats/record-schemas.js';
import {
  type ContextStore,
  type ContextSummary,
  type SavedContext,
  SavedContextSchema,
  summaryOf,
  VERSIONS_KEPT,
} from './saved-context.js';

const keyOf = (name: string, version: number) => `${name}.v${version}`;
const VERSION_KEY = /^([A-Za-z0-9_-]{1,64})\.v(\d{1,9})$/;

/**
 * Contexts in the fleet's JetStream KV (`<prefix>_contexts`): one key per version (`<name>.v<n>`),
 * each value sealed with the fleet's key and bound to its key, so the stream files hold no cookie in
 * plain text and any node of the fleet reads them. Versions are listed from the stream's subjects
 * (no consumer), a new one is created only if its number is free (two saves at once get two numbers).
 */
export class KvContextStore implements ContextStore {
  readonly scope = 'fleet';

  private constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
    private readonly seal: FleetSeal,
  ) {}

  static async open(
    nc: NatsConnection,
    options: { prefix: string; replicas: number; timeoutMs: number; seal: FleetSeal },
  ): Promise<KvContextStore> {
    const bucket = `${options.prefix}_contexts`;
    const kv = await new Kvm(jetstream(nc, { timeout: options.timeoutMs })).create(bucket, {
      history: 1,
      replicas: options.replicas,
    });
    const jsm = await jetstreamManager(nc, { timeout: options.timeoutMs });
    return new KvContextStore(kv, jsm, bucket, options.seal);
  }

  /** Every stored version of every context (purged ones included until read). */
  private async keys(name?: string): Promise<{ name: string; version: number; key: string }[]> {
    const prefix = `$KV.${this.bucket}.`;
    const info = await this.jsm.streams.info(`KV_${this.bucket}`, {
      subjects_filter: `${prefix}${name ? `${name}.>` : '>'}`,
    });
    return Object.keys(info.state.subjects ?? {}).flatMap((subject) => {
      const key = subject.slice(prefix.length);
      const match = VERSION_KEY.exec(key);
      return match ? [{ name: match[1] as string, version: Number(match[2]), key }] : [];
    });
  }

  private async read(key: string, name: string, version: number) {
    const entry = await this.kv.get(key);
    if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
    const value = this.seal.open(entry.value, `${this.bucket}/${key}`);
    // A value must name itself: one copied under another key is not that version.
    if (!fits(SavedContextSchema, value)) return undefined;
    const context = value as SavedContext;
    if (context.name !== name || context.version !== version) return undefined;
    return { context, bytes: entry.length };
  }

  private async present(name: string) {
    const found = await Promise.all(
      (await this.keys(name))
        .filter((k) => k.name === name)
        .map(async (k) => ({ ...k, stored: await this.read(k.key, k.name, k.version) })),
    );
    return found.filter((f) => f.stored !== undefined).sort((a, b) => a.version - b.version);
  }

  async save(name: string, value: Omit<SavedContext, 'version' | 'name'>) {
    for (let attempt = 0; ; attempt++) {
      const present = await this.present(name);
      const version = (present.at(-1)?.version ?? 0) + 1;
      const context: SavedContext = { name, version, ...value };
      const key = keyOf(name, version);
      const sealed = this.seal.seal(context, `${this.bucket}/${key}`);
      try {
        await this.kv.create(key, sealed);
      } catch (error) {
        if (attempt < 3) continue; // another save took this number
        throw error;
      }
      for (const old of present.slice(0, Math.max(0, present.length + 1 - VERSIONS_KEPT)))
        await this.kv.purge(old.key).catch(() => undefined);
      return { context, bytes: sealed.length };
    }
  }

  async get(name: string, version?: number) {
    if (version !== undefined) return this.read(keyOf(name, version), name, version);
    const latest = (await this.present(name)).at(-1);
    return latest?.stored;
  }

  async versions(name: string): Promise<ContextSummary[]> {
    return (await this.present(name)).map((p) =>
      summaryOf(p.stored?.context as SavedContext, p.stored?.bytes ?? 0),
    );
  }

  async list(): Promise<ContextSummary[]> {
    const names = [...new Set((await this.keys()).map((k) => k.name))].sort();
    const latest = await Promise.all(names.map((name) => this.get(name)));
    return latest.flatMap((stored) => (stored ? [summaryOf(stored.context, stored.bytes)] : []));
  }

  async delete(name: string): Promise<boolean> {
    const present = await this.present(name);
    await Promise.all(present.map((p) => this.kv.purge(p.key)));
    return present.length > 0;
  }
}
