import {
  type ActorRefFrom,
  type AnyActorRef,
  assign,
  enqueueActions,
  fromCallback,
  fromPromise,
  sendParent,
  setup,
} from 'xstate';
import type { BrowserHandle } from './types.js';

/** How often a browser composites its pages: Chromium's own 60 Hz, or 30 Hz for sessions captured at ≤ 30 FPS. */
export type RenderHz = 30 | 60;

/** What a browser host is started with. */
export interface BrowserHostInput {
  hostId: string;
  renderHz: RenderHz;
}

export interface BrowserHostContext {
  hostId: string;
  renderHz: RenderHz;
  browser?: BrowserHandle;
  /** Sessions placed on this browser; each hears about its readiness and its crash. */
  sessions: Record<string, AnyActorRef>;
  closeRequested: boolean;
  failure?: string;
}

export type BrowserHostEvent =
  | { type: 'host.attach'; sessionId: string; session: AnyActorRef }
  | { type: 'host.detach'; sessionId: string }
  | { type: 'host.close' }
  | { type: 'browser.disconnected' };

/** Events a browser host sends to its parent (the pool). */
export type HostReport =
  | { type: 'host.crashed'; hostId: string }
  | { type: 'host.closed'; hostId: string; launchFailure?: string };

const notProvided = (name: string) => () => {
  throw new Error(`browser host actor "${name}" was not provided`);
};

/** One Chromium process holding up to `sessionsPerBrowser` session contexts. */
export const browserHostMachine = setup({
  types: {
    context: {} as BrowserHostContext,
    input: {} as BrowserHostInput,
    events: {} as BrowserHostEvent,
  },
  actors: {
    launchBrowser: fromPromise<BrowserHandle, BrowserHostInput>(notProvided('launchBrowser')),
    watchBrowser: fromCallback<{ type: 'noop' }, { browser: BrowserHandle }>(notProvided('watchBrowser')),
    closeBrowser: fromPromise<void, { browser: BrowserHandle | undefined }>(notProvided('closeBrowser')),
  },
  actions: {
    attach: assign(({ context, event }) =>
      event.type === 'host.attach'
        ? { sessions: { ...context.sessions, [event.sessionId]: event.session } }
        : {},
    ),
    detach: assign(({ context, event }) => {
      if (event.type !== 'host.detach') return {};
      const { [event.sessionId]: _gone, ...sessions } = context.sessions;
      return { sessions };
    }),
    tellAllReady: enqueueActions(({ context, enqueue }) => {
      for (const session of Object.values(context.sessions))
        enqueue.sendTo(session, { type: 'host.ready', browser: context.browser });
    }),
    tellNewcomerReady: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'host.attach')
        enqueue.sendTo(event.session, { type: 'host.ready', browser: context.browser });
    }),
    tellAllFailed: enqueueActions(({ context, enqueue }) => {
      for (const session of Object.values(context.sessions))
        enqueue.sendTo(session, { type: 'host.failed', reason: `browser launch failed: ${context.failure}` });
    }),
    tellAllCrashed: enqueueActions(({ context, enqueue }) => {
      for (const session of Object.values(context.sessions))
        enqueue.sendTo(session, { type: 'host.crashed', reason: 'browser process exited unexpectedly' });
    }),
    reportCrash: sendParent(({ context }): HostReport => ({ type: 'host.crashed', hostId: context.hostId })),
    reportClosed: sendParent(
      ({ context }): HostReport => ({
        type: 'host.closed',
        hostId: context.hostId,
        ...(context.browser ? {} : { launchFailure: context.failure ?? 'closed before it launched' }),
      }),
    ),
  },
  guards: {
    closeRequested: ({ context }) => context.closeRequested,
  },
}).createMachine({
  id: 'browserHost',
  context: ({ input }) => ({
    hostId: input.hostId,
    renderHz: input.renderHz,
    sessions: {},
    closeRequested: false,
  }),
  initial: 'launching',
  on: {
    'host.detach': { actions: 'detach' },
  },
  states: {
    launching: {
      on: {
        'host.attach': { actions: 'attach' },
        'host.close': { actions: assign({ closeRequested: true }) },
      },
      invoke: {
        src: 'launchBrowser',
        input: ({ context }) => ({ hostId: context.hostId, renderHz: context.renderHz }),
        onDone: [
          {
            guard: 'closeRequested',
            target: 'closing',
            actions: assign({ browser: ({ event }) => event.output }),
          },
          { target: 'ready', actions: [assign({ browser: ({ event }) => event.output }), 'tellAllReady'] },
        ],
        onError: {
          target: 'closed',
          actions: [
            assign({ failure: ({ event }) => String((event.error as Error)?.message ?? event.error) }),
            'tellAllFailed',
          ],
        },
      },
    },
    ready: {
      invoke: {
        src: 'watchBrowser',
        input: ({ context }) => ({ browser: context.browser as BrowserHandle }),
      },
      on: {
        'host.attach': { actions: ['attach', 'tellNewcomerReady'] },
        'host.close': 'closing',
        'browser.disconnected': { target: 'closing', actions: ['tellAllCrashed', 'reportCrash'] },
      },
    },
    // Also after a crash: kills what is left of the process group and removes the profile.
    closing: {
      invoke: {
        src: 'closeBrowser',
        input: ({ context }) => ({ browser: context.browser }),
        onDone: 'closed',
        onError: 'closed',
      },
    },
    closed: { type: 'final', entry: 'reportClosed' },
  },
});

export type BrowserHostActorRef = ActorRefFrom<typeof browserHostMachine>;
