import { type SavedPage, sessionStateName as sessionStateNameOf } from '../machines/session.machine.js';
import type { SessionParams } from '../machines/types.js';
import type { Castpool } from '../system.js';
import type { Capacity } from './admission.js';
import { Automation } from './automation.js';
import { ContextCommands } from './contexts.js';
import { ControlCommands } from './control.js';
import { Downloads } from './downloads.js';
import { NodeInfo } from './info.js';
import type { CommandSurface, InputOf, NodeOperationName, OutputOf } from './operations.js';
import { Recordings } from './recordings.js';
import type { SessionView } from './results.js';
import { SessionCommands } from './sessions.js';
import { Thumbnails } from './thumbnails.js';
import { viewerTokenOperation } from './viewer-tokens.js';
import { ViewerCommands } from './viewers.js';

export type { CommandSurface, InputOf, OperationName, OutputOf } from './operations.js';
export type * from './results.js';

/** The handler of every operation a node runs itself, by operation name. */
export type NodeHandlers = {
  [Name in NodeOperationName]: (input: InputOf<Name>) => Promise<OutputOf<Name>>;
};

/** What the fleet registry keeps of a local session. */
export interface SessionDetail {
  state: string;
  params: SessionParams;
  saved?: SavedPage;
  reason?: string;
}

/**
 * This node's command layer: each operation of `operations.ts` has its handler here (sessions,
 * viewers, thumbnails); handlers send events to the actors and wait for the outcome. REST and NATS
 * reach them through a `CommandSurface` (this node alone, or the fleet router in front of it).
 */
export class Commands {
  readonly sessions: SessionCommands;
  readonly viewers: ViewerCommands;
  readonly thumbnails: Thumbnails;
  readonly downloads: Downloads;
  readonly recordings: Recordings;
  /** Saved contexts (cookies and storage under a name). */
  readonly contexts: ContextCommands;
  /** CDP clients of this node's sessions. */
  readonly automation: Automation;
  /** What this node is doing (the read model behind /api/info, the gauges and leases). */
  readonly info: NodeInfo;
  /** The node operations by name (what node-to-node requests and the fleet router call). */
  readonly handlers: NodeHandlers;
  /** This node alone, as REST and NATS clients see it. */
  readonly surface: CommandSurface;

  constructor(private readonly castpool: Castpool) {
    this.contexts = new ContextCommands(castpool);
    this.sessions = new SessionCommands(castpool, this.contexts);
    this.viewers = new ViewerCommands(castpool, this.sessions);
    this.thumbnails = new Thumbnails(castpool);
    this.downloads = new Downloads(castpool);
    this.recordings = new Recordings(castpool);
    this.automation = new Automation(castpool, this.sessions);
    this.info = new NodeInfo(castpool);
    const s = this.sessions;
    const control = new ControlCommands(castpool);
    this.handlers = {
      create: (input) => s.create(input),
      list: async () => s.list(),
      get: async (input) => s.get(input),
      delete: (input) => s.delete(input),
      navigate: (input) => s.navigate(input),
      dialog: (input) => s.answerDialog(input),
      'file-chooser': (input) => s.giveFiles(input),
      'tab-activate': async (input) => s.activateTab(input),
      control: async (input) => control.control(input),
      'context-save': (input) => this.contexts.save(input),
      'context-list': () => this.contexts.list(),
      'context-get': (input) => this.contexts.get(input),
      'context-delete': (input) => this.contexts.delete(input),
      'tab-close': async (input) => s.closeTab(input),
      hibernate: (input) => s.hibernate(input),
      resume: (input) => s.resume(input),
      snapshot: async (input) => s.snapshot(input),
      thumbnail: (input) => this.thumbnails.take(input),
      downloads: async (input) => this.downloads.list(input),
      download: (input) => this.downloads.file(input),
      'recording-start': (input) => this.recordings.start(input),
      'recording-stop': (input) => this.recordings.stop(input),
      recordings: async (input) => this.recordings.list(input),
      recording: (input) => this.recordings.file(input),
      'whep.offer': (input) => this.viewers.offer(input),
      'whep.patch': async (input) => this.viewers.patch(input),
      'whep.delete': async (input) => this.viewers.leave(input),
    };
    this.surface = {
      ...this.handlers,
      'viewer-token': viewerTokenOperation(this.handlers.get, castpool.access),
    };
  }

  get events() {
    return this.castpool.events;
  }

  has(id: string): boolean {
    return Object.hasOwn(this.castpool.pool.getSnapshot().context.sessions, id);
  }

  /** This node's admission numbers (the same decision as the pool's admission guard). */
  capacity(): Capacity {
    return this.info.capacity();
  }

  /** Starts a session under a given id (one re-created from the fleet registry). */
  start(sessionId: string, params: SessionParams, saved?: SavedPage): Promise<SessionView> {
    return this.sessions.start(sessionId, params, saved);
  }

  /** Why a session re-created from the registry may not open its URLs here (undefined: it may). */
  async adoptionRefusal(specUrl: string, savedUrl: string | undefined): Promise<string | undefined> {
    for (const url of savedUrl ? [specUrl, savedUrl] : [specUrl]) {
      try {
        await this.castpool.access.checkUrl(url);
      } catch (error) {
        return (error as Error).message;
      }
    }
    return undefined;
  }

  /** What the fleet registry keeps of a local session. */
  detail(id: string): SessionDetail | undefined {
    const { sessions } = this.castpool.pool.getSnapshot().context;
    const entry = Object.hasOwn(sessions, id) ? sessions[id] : undefined;
    if (!entry) return undefined;
    const snapshot = entry.ref.getSnapshot();
    const { context } = snapshot;
    return {
      state: sessionStateNameOf(snapshot.value),
      params: { ...context.params, url: context.url },
      saved: context.saved,
      reason: context.failure ?? context.hibernation?.reason,
    };
  }
}
