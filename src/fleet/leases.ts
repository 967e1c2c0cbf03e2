import type { Commands } from '../commands/index.js';
import type { NodeLease, Registry } from '../nats/registry.js';

/**
 * This node's lease (renewed on its own timer with its capacity and load) and what it knows of the
 * others' (the live nodes: placement, listing and takeover read them).
 */
export class Leases {
  private connectedSince = Date.now();
  private lastActive = -1;
  /** When this node's lease was last written (0: not yet). */
  private renewedAt = 0;
  /** The last live leases read (used when the registry cannot be reached). */
  last: NodeLease[] = [];

  constructor(
    private readonly registry: Registry,
    private readonly local: Commands,
    private readonly node: string,
    private readonly baseUrl: () => string,
  ) {}

  /** The connection came back: others need a lease period to renew before anyone looks dead. */
  reconnected(): void {
    this.connectedSince = Date.now();
  }

  /** How long this node has been connected (only one connected for a whole lease judges others dead). */
  connectedForMs(): number {
    return Date.now() - this.connectedSince;
  }

  /** How long ago this node's lease was last written (Infinity: never). */
  sinceRenewalMs(): number {
    return this.renewedAt === 0 ? Number.POSITIVE_INFINITY : Date.now() - this.renewedAt;
  }

  async renew(): Promise<void> {
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
    this.renewedAt = Date.now();
    if (active !== this.lastActive) {
      this.lastActive = active;
      this.local.events.pool('capacity', { maxSessions, active });
    }
  }

  /** The live nodes now; the last known ones when the registry cannot be reached (`fallback`). */
  async live(fallback = false): Promise<NodeLease[]> {
    try {
      this.last = await this.registry.liveNodes();
    } catch (error) {
      if (!fallback) throw error;
    }
    return this.last;
  }

  drop(): Promise<void> {
    return this.registry.dropLease(this.node);
  }
}
