import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyBaseLogger } from 'fastify';
import type { ViewerScope } from '../access/index.js';
import type { Commands, SessionSnapshot, SessionView, ViewerAnswer } from '../commands.js';
import type { Config } from '../config.js';
import { CastpoolError, notFound } from '../errors.js';
import type { CastpoolEvent, EventHub } from '../events.js';
import type { SavedPage } from '../machines/session.machine.js';
import type { CreateSessionBody } from '../schemas.js';
import type { FleetSeal } from './fleet-seal.js';
import type { NodeLease, Registry, Revisioned, SessionRecord } from './registry.js';
import { call } from './rpc.js';

/** Largest saved state kept in the registry; bigger ones keep only the URL (KV messages are ≤ 1 MB). */
const MAX_SAVED_BYTES = 256 * 1024;

/** The operations a node answers for its own sessions (`<prefix>.nodes.<node>.<op>`). */
export type NodeOp =
  | 'create'
  | 'list'
  | 'get'
  | 'delete'
  | 'navigate'
  | 'hibernate'
  | 'resume'
  | 'whep.offer'
  | 'whep.patch'
  | 'whep.delete'
  | 'thumbnail'
  | 'snapshot';

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

const SLOW_OPS = new Set<NodeOp>(['create', 'delete', 'navigate', 'hibernate', 'resume', 'whep.offer']);

interface Tracked {
  revision?: number;
  writing: boolean;
  dirty: boolean;
  gone: boolean;
}

/**
 * One node's part in the fleet: commands for sessions on other nodes go to their owner, creates go
 * to the node with the most room, the registry follows every local session, leases are renewed,
 * and the sessions of a node whose lease lapsed are re-created here (compare-and-set decides who).
 */
export class Fleet {
  private readonly tracked = new Map<string, Tracked>();
  /** Sessions another node owns now; their local copy is closing and must not touch the registry. */
  private readonly disowned = new Set<string>();
  private connectedSince = Date.now();
  private lastLeases: NodeLease[] = [];
  /** What the fleet check is waiting for (named in the log when a check overruns). */
  checkStep = 'idle';
  private lastActive = -1;
  private readonly unsubscribe: () => void;
  readonly node: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly registry: Registry,
    private readonly local: Commands,
    events: EventHub,
    private readonly config: Config,
    private readonly log: FastifyBaseLogger,
    private readonly baseUrl: () => string,
    /** Seals commands to other nodes (and opens their answers): only members are obeyed or believed. */
    private readonly seal: FleetSeal,
  ) {
    this.node = config.nodeId;
    this.unsubscribe = events.subscribe((event) => this.onEvent(event));
  }

  private get prefix() {
    return this.config.nats.subjectPrefix;
  }

  private get timeout() {
    return this.config.nats.requestTimeoutMs;
  }

  nodeSubject(node: string, op: NodeOp): string {
    return `${this.prefix}.nodes.${node}.${op}`;
  }

  /** The connection came back: others need a lease period to renew before anyone looks dead. */
  reconnected(): void {
    this.connectedSince = Date.now();
    for (const entry of this.tracked.values()) entry.dirty = true;
  }

  private toOwner<T>(owner: string, op: NodeOp, payload: unknown, raw = false): Promise<T> {
    // Commands that wait for Chromium (a launch, a load) get its deadlines; the rest answer at once.
    const slow = SLOW_OPS.has(op);
    const timeout = slow
      ? Math.max(this.timeout, this.config.launchTimeoutMs + this.config.navigationTimeoutMs)
      : this.timeout;
    return call<T>(this.nc, this.nodeSubject(owner, op), payload, timeout, { raw, seal: this.seal });
  }

  /** The owner of a session that is not here, from the registry; 404 when nobody has it. */
  private async ownerOf(id: string): Promise<string> {
    // Ids are UUIDs; anything that is not even a valid KV key names no session (and must not be a 503).
    if (!SESSION_ID.test(id)) throw notFound(`session ${id}`);
    let record: Revisioned<SessionRecord> | undefined;
    try {
      record = await this.registry.getSession(id);
    } catch (error) {
      throw new CastpoolError('unavailable', `session registry unreachable: ${(error as Error).message}`, {
        retryable: true,
      });
    }
    if (!record || record.value.owner === this.node) throw notFound(`session ${id}`);
    return record.value.owner;
  }

  private async route<T>(id: string, here: () => T | Promise<T>, op: NodeOp, payload: unknown): Promise<T> {
    if (this.local.has(id)) return here();
    return this.toOwner<T>(await this.ownerOf(id), op, payload);
  }

  // ---- the command surface (REST and the fleet-wide NATS service call these)

  /** Creates here; answers once the registry knows the session (so a failover can bring it back). */
  async createHere(body: CreateSessionBody): Promise<SessionView> {
    const view = await this.local.create(body);
    await this.settled(view.id);
    return view;
  }

  /** Deletes here; answers once the record is gone too (else a takeover could bring it back). */
  async deleteHere(id: string): Promise<void> {
    await this.local.delete(id);
    await this.settled(id);
  }

  async hibernateHere(id: string): Promise<SessionView> {
    const view = await this.local.hibernate(id);
    await this.settled(id);
    return view;
  }

  /** Resolves when the registry has this session's latest state (bounded: NATS may be down). */
  async settled(id: string, timeoutMs = this.timeout): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const entry = this.tracked.get(id);
      if (!entry || (!entry.writing && !entry.dirty) || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async create(body: CreateSessionBody): Promise<SessionView> {
    await this.local.paramsFor(body); // bad input is refused here, before any placement
    const order = await this.placementOrder();
    for (const node of order) {
      try {
        if (node === this.node) return await this.createHere(body);
        return await this.toOwner<SessionView>(node, 'create', body);
      } catch (error) {
        // Full (or gone) since its lease said otherwise: the next node may have room. This node's own
        // refusal (degraded, shutting down, a failed launch) is the answer when it is the only one.
        const code = error instanceof CastpoolError ? error.code : '';
        const retryable =
          code === 'capacity' || (node !== this.node && (code === 'unavailable' || code === 'timeout'));
        if (!retryable || order.length === 1) throw error;
      }
    }
    throw new CastpoolError('capacity', 'every node of the fleet is at capacity', {
      retryable: true,
      retryAfterSeconds: 5,
    });
  }

  /** Nodes with room, the most free first; this node first among equals. Alone, only this node. */
  private async placementOrder(): Promise<string[]> {
    let leases: NodeLease[];
    try {
      leases = await this.registry.liveNodes();
      this.lastLeases = leases;
    } catch {
      return [this.node]; // the registry is unreachable: this node still serves what it can
    }
    const localFree = this.local.capacity().available;
    const candidates = leases
      .filter((lease) => lease.node !== this.node)
      .map((lease) => ({ node: lease.node, free: lease.maxSessions - lease.active, cpu: lease.cpu ?? 0 }))
      .filter((c) => c.free > 0);
    candidates.push({ node: this.node, free: localFree, cpu: this.local.capacity().cpu });
    // Most room first; among equals the less busy host, and this node when it is as good as any.
    const self = (c: { node: string }) => (c.node === this.node ? 0 : 1);
    const busier = (a: { cpu: number }, b: { cpu: number }) =>
      Math.abs(a.cpu - b.cpu) >= 0.2 ? a.cpu - b.cpu : 0;
    candidates.sort((a, b) => b.free - a.free || busier(a, b) || self(a) - self(b));
    return candidates.map((c) => c.node);
  }

  /** Every session of the fleet: this node's, and each live node's own list. */
  async list(): Promise<SessionView[]> {
    const views = this.local.list();
    let leases = this.lastLeases;
    try {
      leases = await this.registry.liveNodes();
    } catch {
      // registry unreachable: the last known nodes
    }
    const others = leases.filter((lease) => lease.node !== this.node);
    const lists = await Promise.all(
      others.map((lease) => this.toOwner<SessionView[]>(lease.node, 'list', {}).catch(() => [])),
    );
    return views.concat(...lists);
  }

  get(id: string): Promise<SessionView> {
    return this.route(id, () => this.local.get(id), 'get', { id });
  }

  delete(id: string): Promise<void> {
    return this.route(id, () => this.deleteHere(id), 'delete', { id });
  }

  navigate(id: string, url: string): Promise<SessionView> {
    return this.route(id, () => this.local.navigate(id, url), 'navigate', { id, url });
  }

  hibernate(id: string): Promise<SessionView> {
    return this.route(id, () => this.hibernateHere(id), 'hibernate', { id });
  }

  resume(id: string): Promise<SessionView> {
    return this.route(id, () => this.local.resume(id), 'resume', { id });
  }

  attachViewer(id: string, offer: string, scope: ViewerScope): Promise<ViewerAnswer> {
    return this.route(id, () => this.local.attachViewer(id, offer, scope), 'whep.offer', {
      id,
      offer,
      scope,
    });
  }

  patchViewer(id: string, viewerId: string, fragment: string, ifMatch: string | undefined): Promise<string> {
    return this.route(id, () => this.local.patchViewer(id, viewerId, fragment, ifMatch), 'whep.patch', {
      id,
      viewerId,
      fragment,
      ifMatch,
    });
  }

  detachViewer(id: string, viewerId: string): Promise<void> {
    return this.route(id, () => this.local.detachViewer(id, viewerId), 'whep.delete', { id, viewerId });
  }

  snapshot(id: string): Promise<SessionSnapshot> {
    return this.route(id, async () => this.local.snapshot(id), 'snapshot', { id });
  }

  async thumbnail(id: string, width: number): Promise<Buffer> {
    if (this.local.has(id)) return this.local.thumbnail(id, width);
    const bytes = await this.toOwner<Uint8Array>(await this.ownerOf(id), 'thumbnail', { id, width }, true);
    return Buffer.from(bytes);
  }

  // ---- registry: follow every local session

  private onEvent(event: CastpoolEvent): void {
    if (event.kind !== 'session' || event.node !== this.node || this.disowned.has(event.sessionId)) return;
    const entry = this.tracked.get(event.sessionId) ?? { writing: false, dirty: false, gone: false };
    this.tracked.set(event.sessionId, entry);
    entry.dirty = true;
    if (event.to === 'closed') entry.gone = true;
    void this.flush(event.sessionId);
  }

  private recordOf(id: string): SessionRecord | undefined {
    const detail = this.local.detail(id);
    if (!detail) return undefined;
    let saved: unknown = detail.saved;
    if (saved && JSON.stringify(saved).length > MAX_SAVED_BYTES) saved = { url: (saved as SavedPage).url };
    return {
      id,
      owner: this.node,
      state: detail.state,
      spec: detail.params,
      ...(saved ? { saved } : {}),
      ...(detail.reason ? { reason: detail.reason } : {}),
      updatedAt: new Date().toISOString(),
    };
  }

  /** Writes a session's latest state; one write per session at a time, the newest state wins. */
  private async flush(id: string): Promise<void> {
    const entry = this.tracked.get(id);
    if (!entry || entry.writing || !entry.dirty) return;
    entry.writing = true;
    try {
      while (entry.dirty) {
        entry.dirty = false;
        if (entry.gone) {
          // Only our own record goes: a session another node took over stays theirs.
          const current = await this.registry.getSession(id);
          if (current?.value.owner === this.node) await this.registry.deleteSession(id, current.revision);
          this.tracked.delete(id);
          return;
        }
        const record = this.recordOf(id);
        if (!record) continue;
        entry.revision =
          entry.revision === undefined
            ? await this.registry.createSession(record).catch(async (error) => {
                // Created by a takeover (our adopted session): write over that revision.
                const current = await this.registry.getSession(id);
                if (current?.value.owner !== this.node) throw error;
                return this.registry.updateSession(record, current.revision);
              })
            : await this.registry.updateSession(record, entry.revision);
      }
    } catch (error) {
      const message = String((error as Error).message ?? error);
      if (/wrong last sequence|exists/i.test(message) && !entry.gone) {
        // The revision moved under us. Still ours (a server that lost its last writes): carry on from
        // its revision. Someone else's now (a takeover): stop acting for it.
        const current = await this.registry.getSession(id).catch(() => undefined);
        if (!current || current.value.owner === this.node) {
          entry.revision = current?.revision;
          entry.dirty = true;
        } else {
          this.log.warn({ sessionId: id, owner: current.value.owner }, 'lost the session to another node');
          await this.disown(id);
          return;
        }
      } else entry.dirty = true; // the registry is unreachable: the next heartbeat tries again
    } finally {
      entry.writing = false;
    }
  }

  // ---- leases, fleet check, takeover

  /** Renews this node's lease with its capacity and load (its own timer: a slow check must not let it lapse). */
  async renewLease(): Promise<void> {
    const { maxSessions, active, cpu } = this.local.capacity();
    await this.registry.renewLease({
      node: this.node,
      url: this.baseUrl(),
      maxSessions,
      active,
      cpu,
      startedAt: new Date(this.connectedSince).toISOString(),
      renewedAt: new Date().toISOString(),
    });
    if (active !== this.lastActive) {
      this.lastActive = active;
      this.local.events.pool('capacity', { maxSessions, active });
    }
  }

  /** The fleet check: retry registry writes, adopt the sessions of dead nodes, give up taken ones. */
  async tick(): Promise<void> {
    for (const [id, entry] of this.tracked) if (entry.dirty) void this.flush(id);
    this.checkStep = 'reading leases';
    const leases = await this.registry.liveNodes();
    const live = new Set(leases.map((l) => l.node));
    for (const gone of this.lastLeases.filter((l) => !live.has(l.node)))
      this.local.events.pool('node.down', { down: gone.node });
    this.lastLeases = leases;
    this.checkStep = 'reading sessions';
    const records = await this.registry.listSessions();
    for (const { value, revision } of records) {
      if (value.owner === this.node) continue;
      if (this.local.has(value.id)) {
        // Taken over while we were cut off: the other node runs it now.
        this.log.warn(
          { sessionId: value.id, owner: value.owner },
          'session runs elsewhere now; closing ours',
        );
        this.checkStep = `closing ${value.id}`;
        await this.disown(value.id);
        continue;
      }
      // Only a node that has been connected for a whole lease judges others dead.
      if (live.has(value.owner) || Date.now() - this.connectedSince < this.config.nats.leaseMs) continue;
      if (this.local.capacity().available <= 0) break;
      this.checkStep = `adopting ${value.id}`;
      await this.adopt(value, revision);
    }
    this.checkStep = 'idle';
  }

  /** Closes the local copy of a session another node owns, leaving the registry to the owner. */
  private async disown(id: string): Promise<void> {
    this.disowned.add(id);
    this.tracked.delete(id);
    await this.local.delete(id).catch(() => {});
    this.disowned.delete(id);
  }

  /** Records this node refused to adopt (said once each). */
  private readonly refusedAdoptions = new Set<string>();

  private async adopt(record: SessionRecord, revision: number): Promise<void> {
    // The record fits its schema (the registry checked) and passed the fleet seal; what it asks to
    // open must also pass this node's URL policy, exactly as a create would.
    const refusal = await this.local.adoptionRefusal(
      record.spec.url,
      (record.saved as SavedPage | undefined)?.url,
    );
    if (refusal) {
      if (!this.refusedAdoptions.has(record.id))
        this.log.warn(
          { sessionId: record.id, from: record.owner, refusal },
          'not adopting a session: its URL is refused here',
        );
      this.refusedAdoptions.add(record.id);
      return;
    }
    const taken = { ...record, owner: this.node, state: 'launching', updatedAt: new Date().toISOString() };
    let newRevision: number;
    try {
      newRevision = await this.registry.updateSession(taken, revision);
    } catch {
      return; // another node was first
    }
    this.tracked.set(record.id, { revision: newRevision, writing: false, dirty: false, gone: false });
    this.local.events.pool('session.recreated', { sessionId: record.id, from: record.owner });
    this.log.info({ sessionId: record.id, from: record.owner }, 're-creating a session of a dead node');
    const saved = record.saved as SavedPage | undefined;
    const params = saved?.url ? { ...record.spec, url: saved.url } : record.spec;
    await this.local.start(record.id, params, saved).catch((error) => {
      this.log.warn({ err: error, sessionId: record.id }, 'could not re-create an adopted session');
    });
  }

  /** Resolves once no registry write is running (bounded): shutdown deletes the closed sessions first. */
  async settle(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.tracked.values()].some((e) => e.writing || e.dirty) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.registry.dropLease(this.node).catch(() => {});
  }
}
