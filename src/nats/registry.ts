import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { SessionParams } from '../machines/types.js';

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

export interface Revisioned<T> {
  value: T;
  revision: number;
}

const encode = (value: unknown) => JSON.stringify(value);

/**
 * JetStream KV buckets: `<prefix>_sessions` (session id → record; ownership changes use
 * compare-and-set on the revision) and `<prefix>_nodes` (leases; the bucket TTL expires a node that
 * stops renewing — nats-server 2.9 has no per-key TTL).
 */
export class Registry {
  private constructor(
    private readonly sessions: KV,
    private readonly nodes: KV,
    private readonly jsm: JetStreamManager,
    private readonly buckets: { sessions: string; nodes: string },
  ) {}

  static async open(
    nc: NatsConnection,
    options: { prefix: string; leaseMs: number; replicas: number; timeoutMs: number },
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
    return new Registry(sessions, nodes, jsm, buckets);
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
    return { value: entry.json<SessionRecord>(), revision: entry.revision };
  }

  async listSessions(): Promise<Revisioned<SessionRecord>[]> {
    const keys = await this.keysOf(this.buckets.sessions);
    const records = await Promise.all(keys.map((key) => this.getSession(key)));
    return records.filter((r): r is Revisioned<SessionRecord> => r !== undefined);
  }

  /** A new session: fails if the id is taken. Returns the revision. */
  createSession(record: SessionRecord): Promise<number> {
    return this.sessions.create(record.id, encode(record));
  }

  /** Compare-and-set: fails when someone wrote since `revision` (e.g. another node took it over). */
  updateSession(record: SessionRecord, revision: number): Promise<number> {
    return this.sessions.update(record.id, encode(record), revision);
  }

  async deleteSession(id: string, revision?: number): Promise<void> {
    await this.sessions.delete(id, revision === undefined ? undefined : { previousSeq: revision });
  }

  renewLease(lease: NodeLease): Promise<number> {
    return this.nodes.put(lease.node, encode(lease));
  }

  async dropLease(node: string): Promise<void> {
    await this.nodes.delete(node);
  }

  async liveNodes(): Promise<NodeLease[]> {
    const keys = await this.keysOf(this.buckets.nodes);
    const entries = await Promise.all(keys.map((key) => this.nodes.get(key)));
    return entries.flatMap((e) => (e && e.operation === 'PUT' && e.length > 0 ? [e.json<NodeLease>()] : []));
  }
}
