import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { TSchema } from '@sinclair/typebox';
import type { SessionParams } from '../machines/types.js';
import type { FleetSeal } from './fleet-seal.js';
import { fits, NodeLeaseSchema, SessionRecordSchema, upgradedRecord } from './record-schemas.js';

/** The fleet's record of one session. */
export interface SessionRecord {
  id: string;
  owner: string;
  state: string;
  spec: SessionParams;
  /** What a hibernated session needs to come back (opaque here). */
  saved?: unknown;
  reason?: string;
  updatedAt: string;
}

/** A node's lease: renewed every heartbeat, gone when the bucket's TTL passes without one. */
export interface NodeLease {
  node: string;
  /** Base URL of its REST API. */
  url: string;
  maxSessions: number;
  active: number;
  /** Host CPU busy share (0–1) at the last capture-budget check. */
  cpu: number;
  startedAt: string;
  renewedAt: string;
}

/** A compare-and-set lost: someone wrote the key since the revision given (or it exists already). */
export function isRevisionConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export interface Revisioned<T> {
  value: T;
  revision: number;
}

/**
 * JetStream KV buckets, every value sealed with the fleet's key and checked against its schema on
 * the way back (a value that is not the fleet's is treated as absent): `<prefix>_sessions` (session id → record; ownership changes use
 * compare-and-set on the revision) and `<prefix>_nodes` (leases; the bucket TTL expires a node that
 * stops renewing — nats-server 2.9 has no per-key TTL).
 */
export class Registry {
  private constructor(
    private readonly sessions: KV,
    private readonly nodes: KV,
    private readonly jsm: JetStreamManager,
    private readonly buckets: { sessions: string; nodes: string },
    private readonly seal: FleetSeal,
    /** Told once per key about a value that is not the fleet's (forged, foreign, malformed). */
    private readonly onForeign: (bucket: string, key: string) => void,
  ) {}

  static async open(
    nc: NatsConnection,
    options: {
      prefix: string;
      leaseMs: number;
      replicas: number;
      timeoutMs: number;
      seal: FleetSeal;
      onForeign?: (bucket: string, key: string) => void;
    },
  ): Promise<Registry> {
    const kvm = new Kvm(jetstream(nc, { timeout: options.timeoutMs }));
    const buckets = { sessions: `${options.prefix}_sessions`, nodes: `${options.prefix}_nodes` };
    const sessions = await kvm.create(buckets.sessions, { history: 1, replicas: options.replicas });
    const nodes = await kvm.create(buckets.nodes, {
      history: 1,
      replicas: options.replicas,
      ttl: options.leaseMs,
    });
    const jsm = await jetstreamManager(nc, { timeout: options.timeoutMs });
    return new Registry(sessions, nodes, jsm, buckets, options.seal, options.onForeign ?? (() => {}));
  }

  /** Values are sealed with the fleet's key, bound to their bucket and key. */
  private encode(bucket: string, key: string, value: unknown): Uint8Array {
    return this.seal.seal(value, `${bucket}/${key}`);
  }

  /** The value when it was sealed by this fleet for this key and fits its schema; else undefined. */
  private decode<T>(
    bucket: string,
    key: string,
    data: Uint8Array,
    schema: TSchema,
    upgrade: (value: unknown) => unknown = (value) => value,
  ): T | undefined {
    const value = upgrade(this.seal.open(data, `${bucket}/${key}`));
    if (value !== undefined && fits(schema, value)) return value as T;
    this.onForeign(bucket, key);
    return undefined;
  }

  /**
   * The keys of a bucket in one request: the stream's subject list. (`KV.keys()` runs a consumer
   * that was seen to stall for 20 s in a 3-server cluster, holding up the whole fleet check.)
   */
  private async keysOf(bucket: string): Promise<string[]> {
    const prefix = `$KV.${bucket}.`;
    const info = await this.jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
    return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
  }

  async getSession(id: string): Promise<Revisioned<SessionRecord> | undefined> {
    const entry = await this.sessions.get(id);
    if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
    const value = this.decode<SessionRecord>(
      this.buckets.sessions,
      id,
      entry.value,
      SessionRecordSchema,
      upgradedRecord,
    );
    // A record must name itself: one copied under another key is not that session.
    if (!value || value.id !== id) return undefined;
    return { value, revision: entry.revision };
  }

  async listSessions(): Promise<Revisioned<SessionRecord>[]> {
    const keys = await this.keysOf(this.buckets.sessions);
    const records = await Promise.all(keys.map((key) => this.getSession(key)));
    return records.filter((r): r is Revisioned<SessionRecord> => r !== undefined);
  }

  /** A new session: fails if the id is taken. Returns the revision. */
  createSession(record: SessionRecord): Promise<number> {
    return this.sessions.create(record.id, this.encode(this.buckets.sessions, record.id, record));
  }

  /** Compare-and-set: fails when someone wrote since `revision` (e.g. another node took it over). */
  updateSession(record: SessionRecord, revision: number): Promise<number> {
    return this.sessions.update(record.id, this.encode(this.buckets.sessions, record.id, record), revision);
  }

  async deleteSession(id: string, revision?: number): Promise<void> {
    await this.sessions.delete(id, revision === undefined ? undefined : { previousSeq: revision });
  }

  renewLease(lease: NodeLease): Promise<number> {
    return this.nodes.put(lease.node, this.encode(this.buckets.nodes, lease.node, lease));
  }

  async dropLease(node: string): Promise<void> {
    await this.nodes.delete(node);
  }

  async liveNodes(): Promise<NodeLease[]> {
    const keys = await this.keysOf(this.buckets.nodes);
    const entries = await Promise.all(keys.map((key) => this.nodes.get(key)));
    return entries.flatMap((e) => {
      if (e?.operation !== 'PUT' || e.length === 0) return [];
      const lease = this.decode<NodeLease>(this.buckets.nodes, e.key, e.value, NodeLeaseSchema);
      // Only a lease the node wrote under its own name counts.
      return lease && lease.node === e.key ? [lease] : [];
    });
  }
}
