import type { NatsConnection } from '@nats-io/nats-core';
import type { Access } from '../access/index.js';
import type { CommandSurface, Commands, InputOf, OutputOf } from '../commands/index.js';
import {
  type NodeOperationName,
  type OperationName,
  operationNames,
  operations,
} from '../commands/operations.js';
import type { SessionList, SessionView } from '../commands/results.js';
import { viewerTokenOperation } from '../commands/viewer-tokens.js';
import type { Config } from '../config.js';
import { CastpoolError, notFound } from '../errors.js';
import type { FleetSeal } from '../nats/fleet-seal.js';
import type { Registry, Revisioned, SessionRecord } from '../nats/registry.js';
import { call } from '../nats/rpc.js';
import type { Leases } from './leases.js';
import type { RegistrySync } from './registry-sync.js';

/** Session ids are UUIDs; anything that is not even a valid KV key names no session. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

type AnyHandler = (input: unknown) => Promise<unknown>;

/**
 * The command surface of a node in a fleet, derived from the operation table: an operation runs
 * where its `runs` says — `owner`: here when the session is here, else forwarded (sealed) to the
 * node the registry names; `placement`: the node with the most room; `every-node`: each live node,
 * merged; `entry`: here, composed of the others.
 */
export class FleetRouter {
  readonly surface: CommandSurface;

  constructor(
    private readonly nc: NatsConnection,
    private readonly registry: Registry,
    private readonly local: Commands,
    private readonly sync: RegistrySync,
    private readonly leases: Leases,
    private readonly config: Config,
    access: Access,
    /** Seals commands to other nodes (and opens their answers): only members are obeyed or believed. */
    private readonly seal: FleetSeal,
  ) {
    const surface: Partial<Record<OperationName, AnyHandler>> = {};
    for (const name of operationNames) {
      const { runs } = operations[name];
      if (runs === 'owner')
        surface[name] = (input) => this.onOwner(name as NodeOperationName, input as { id: string });
      else if (runs === 'placement') surface[name] = (input) => this.create(input as InputOf<'create'>);
      else if (runs === 'every-node') surface[name] = () => this.list();
      else if (runs === 'here')
        surface[name] = (input) => this.runHere(name as NodeOperationName, input as never);
    }
    surface['viewer-token'] = viewerTokenOperation(
      surface.get as CommandSurface['get'],
      access,
    ) as AnyHandler;
    this.surface = surface as CommandSurface;
  }

  private get node() {
    return this.config.nodeId;
  }

  /** Runs a node operation here: its handler, then (`settles`) until the registry has the outcome. */
  async runHere<Name extends NodeOperationName>(name: Name, input: InputOf<Name>): Promise<OutputOf<Name>> {
    const handler = this.local.handlers[name] as AnyHandler;
    const output = (await handler(input)) as OutputOf<Name>;
    if (operations[name].settles) {
      const id = (input as { id?: string }).id ?? (output as SessionView).id;
      await this.sync.settled(id, this.config.nats.requestTimeoutMs);
    }
    return output;
  }

  /** Sends a node operation to another node (sealed); its answer, or its error with the same code. */
  private toNode<Name extends NodeOperationName>(
    node: string,
    name: Name,
    input: InputOf<Name>,
  ): Promise<OutputOf<Name>> {
    const spec = operations[name];
    const { nats, launchTimeoutMs, navigationTimeoutMs } = this.config;
    // Operations that wait for Chromium (a launch, a load) get its deadlines; the rest answer at once.
    const timeout = spec.slow
      ? Math.max(nats.requestTimeoutMs, launchTimeoutMs + navigationTimeoutMs)
      : nats.requestTimeoutMs;
    return call<OutputOf<Name>>(this.nc, `${nats.subjectPrefix}.nodes.${node}.${name}`, input, timeout, {
      raw: spec.bytes === true,
      seal: this.seal,
    });
  }

  private async onOwner(name: NodeOperationName, input: { id: string }): Promise<unknown> {
    const afterEnd = operations[name].outlivesSession === true;
    if (this.local.has(input.id) || (afterEnd && this.local.recordings.keeps(input.id)))
      return this.runHere(name, input as never);
    let owner: string;
    try {
      owner = await this.ownerOf(input.id);
    } catch (error) {
      if (!afterEnd || !(error instanceof CastpoolError) || error.code !== 'not_found') throw error;
      return this.fromKeeper(name, input, error);
    }
    return this.toNode(owner, name, input as never);
  }

  /** An ended session's recordings: the live node that keeps them answers; 404 when none does. */
  private async fromKeeper(name: NodeOperationName, input: { id: string }, missing: Error): Promise<unknown> {
    const others = (await this.leases.live(true)).filter((lease) => lease.node !== this.node);
    const answers = await Promise.allSettled(
      others.map((lease) => this.toNode(lease.node, name, input as never)),
    );
    for (const answer of answers) if (answer.status === 'fulfilled') return answer.value;
    // One that keeps them but failed otherwise (a conflict, a timeout) says so; else the 404.
    for (const answer of answers)
      if (
        answer.status === 'rejected' &&
        !(answer.reason instanceof CastpoolError && answer.reason.code === 'not_found')
      )
        throw answer.reason;
    throw missing;
  }

  /** The owner of a session that is not here, from the registry; 404 when nobody has it. */
  private async ownerOf(id: string): Promise<string> {
    // Not even a valid KV key names no session (and must not be a 503).
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

  private async create(body: InputOf<'create'>): Promise<SessionView> {
    await this.local.sessions.paramsFor(body); // bad input is refused here, before any placement
    const order = await this.placementOrder();
    for (const node of order) {
      try {
        if (node === this.node) return await this.runHere('create', body);
        return await this.toNode(node, 'create', body);
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
    let leases: Awaited<ReturnType<Leases['live']>>;
    try {
      leases = await this.leases.live();
    } catch {
      return [this.node]; // the registry is unreachable: this node still serves what it can
    }
    const here = this.local.capacity();
    const candidates = leases
      .filter((lease) => lease.node !== this.node)
      .map((lease) => ({ node: lease.node, free: lease.maxSessions - lease.active, cpu: lease.cpu ?? 0 }))
      .filter((c) => c.free > 0);
    candidates.push({ node: this.node, free: here.available, cpu: here.cpu });
    // Most room first; among equals the less busy host, and this node when it is as good as any.
    const self = (c: { node: string }) => (c.node === this.node ? 0 : 1);
    const busier = (a: { cpu: number }, b: { cpu: number }) =>
      Math.abs(a.cpu - b.cpu) >= 0.2 ? a.cpu - b.cpu : 0;
    candidates.sort((a, b) => b.free - a.free || busier(a, b) || self(a) - self(b));
    return candidates.map((c) => c.node);
  }

  /** Every session of the fleet: this node's, and each live node's own list. */
  private async list(): Promise<SessionList> {
    const own = await this.local.handlers.list({});
    const others = (await this.leases.live(true)).filter((lease) => lease.node !== this.node);
    const lists = await Promise.all(
      others.map((lease) =>
        this.toNode(lease.node, 'list', {}).then(
          (answer) => answer.sessions,
          () => [],
        ),
      ),
    );
    return { sessions: own.sessions.concat(...lists) };
  }
}
