import type { FastifyBaseLogger } from 'fastify';
import type { Commands } from '../commands/index.js';
import type { SavedPage } from '../machines/session.machine.js';
import type { NodeLease, Registry, SessionRecord } from '../nats/registry.js';
import type { Leases } from './leases.js';
import type { RegistrySync } from './registry-sync.js';

/** Without any sign of change, the session records are still read this often (a safety net). */
const SCAN_EVERY_MS = 15_000;

/**
 * The fleet check, every heartbeat: retry registry writes, say which nodes went down, close local
 * copies of sessions another node took over, and re-create here the sessions of nodes whose lease
 * lapsed (compare-and-set on the record's revision decides which node adopts each one).
 *
 * Reading every session record costs one KV read per session per node and heartbeat (1,000 held
 * sessions: ~670 reads a second on each node). They are read only when something can have changed
 * hands: a node went or came, records of a dead owner were left last time, this node was cut off or
 * frozen for longer than a lease (another may have taken its sessions), or its lease is not fresh —
 * and every SCAN_EVERY_MS regardless.
 */
export class Takeover {
  /** What the check is waiting for (named in the log when a check overruns). */
  step = 'idle';
  /** Records this node refused to adopt (said once each). */
  private readonly refusedAdoptions = new Set<string>();
  private lastTickAt = 0;
  private lastScanAt = 0;
  /** The live nodes at the last scan, and whether it left records of dead owners. */
  private scannedLive = '';
  private orphansLeft = false;

  constructor(
    private readonly registry: Registry,
    private readonly local: Commands,
    private readonly sync: RegistrySync,
    private readonly leases: Leases,
    private readonly options: { node: string; leaseMs: number; log: FastifyBaseLogger },
  ) {}

  async tick(): Promise<void> {
    const { node, leaseMs } = this.options;
    this.sync.retryDirty();
    this.step = 'reading leases';
    const before: NodeLease[] = this.leases.last;
    const leases = await this.leases.live();
    const live = new Set(leases.map((l) => l.node));
    for (const gone of before.filter((l) => !live.has(l.node)))
      this.local.events.pool('node.down', { down: gone.node });
    const now = Date.now();
    const liveKey = [...live].sort().join(',');
    const scan =
      liveKey !== this.scannedLive ||
      this.orphansLeft ||
      now - this.lastTickAt > leaseMs ||
      this.leases.connectedForMs() < 2 * leaseMs ||
      this.leases.sinceRenewalMs() > leaseMs / 2 ||
      now - this.lastScanAt >= SCAN_EVERY_MS;
    this.lastTickAt = now;
    if (!scan) {
      this.step = 'idle';
      return;
    }
    this.step = 'reading sessions';
    const records = await this.registry.listSessions();
    this.lastScanAt = now;
    this.scannedLive = liveKey;
    this.orphansLeft = false;
    for (const { value, revision } of records) {
      if (value.owner === node) continue;
      if (this.local.has(value.id)) {
        // Taken over while we were cut off: the other node runs it now.
        this.options.log.warn(
          { sessionId: value.id, owner: value.owner },
          'session runs elsewhere now; closing ours',
        );
        this.step = `closing ${value.id}`;
        await this.sync.disown(value.id);
        continue;
      }
      if (live.has(value.owner)) continue;
      // An owner is dead: its records are read again next time until every one is taken.
      this.orphansLeft = true;
      if (this.leases.connectedForMs() < leaseMs) continue;
      if (this.local.capacity().available <= 0) break;
      this.step = `adopting ${value.id}`;
      await this.adopt(value, revision);
    }
    this.step = 'idle';
  }

  private async adopt(record: SessionRecord, revision: number): Promise<void> {
    const { node, log } = this.options;
    // The record fits its schema (the registry checked) and passed the fleet seal; what it asks to
    // open must also pass this node's URL policy, exactly as a create would.
    const saved = record.saved as SavedPage | undefined;
    const refusal = await this.local.adoptionRefusal(record.spec.url, saved?.url);
    if (refusal) {
      if (!this.refusedAdoptions.has(record.id))
        log.warn(
          { sessionId: record.id, from: record.owner, refusal },
          'not adopting a session: its URL is refused here',
        );
      this.refusedAdoptions.add(record.id);
      return;
    }
    const taken = { ...record, owner: node, state: 'launching', updatedAt: new Date().toISOString() };
    let newRevision: number;
    try {
      newRevision = await this.registry.updateSession(taken, revision);
    } catch {
      return; // another node was first
    }
    this.sync.adopted(record.id, newRevision);
    this.local.events.pool('session.recreated', { sessionId: record.id, from: record.owner });
    log.info({ sessionId: record.id, from: record.owner }, 're-creating a session of a dead node');
    const params = saved?.url ? { ...record.spec, url: saved.url } : record.spec;
    await this.local.start(record.id, params, saved).catch((error) => {
      log.warn({ err: error, sessionId: record.id }, 'could not re-create an adopted session');
    });
  }
}
