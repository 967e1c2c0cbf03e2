import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate';
import type { ControlLease, ControlRules } from '../../src/machines/control-lease.js';
import { sessionMachine, sessionStateName } from '../../src/machines/session.machine.js';
import type {
  BrowserHandle,
  DialogCommand,
  PageDialog,
  PageHandle,
  SessionParams,
  TabCommand,
  ViewerCommand,
  ViewerInput,
  WidgetCommand,
} from '../../src/machines/types.js';
import { fakeCapture, fakePage, fakeViewer, host, noop, params, policy, stats, viewer } from './fakes.js';

function start(
  overrides: Partial<Parameters<typeof sessionMachine.provide>[0]['actors']> = {},
  restarts = 0,
  sessionParams: SessionParams = params,
  clock?: SimulatedClock,
  control?: ControlRules,
) {
  const capture = fakeCapture();
  const answers: DialogCommand[] = [];
  const closed: unknown[] = [];
  const machine = sessionMachine.provide({
    actors: {
      openPage: fakePage,
      closePage: fromPromise(async ({ input }) => {
        closed.push(input.page);
      }),
      navigatePage: fromCallback(({ input, sendBack }) => {
        sendBack({ type: 'navigate.done', result: { requestId: input.requestId, url: input.url } });
      }),
      capture: capture.logic,
      viewer: fakeViewer,
      watchPage: fromCallback(() => {}),
      downloads: fromCallback(() => {}),
      tabs: fromCallback(() => {}),
      widgets: fromCallback(() => {}),
      fileChooser: fromCallback(() => {}),
      sessionFiles: fromCallback(() => {}),
      dialogs: fromCallback<DialogCommand, { page: PageHandle }>(({ receive }) => {
        receive((command) => answers.push(command));
      }),
      ...overrides,
    },
  });
  // No restart budget unless asked: these tests run the session alone, without a pool to re-host it.
  const restart = { max: restarts, windowMs: 60_000, backoffBaseMs: 0, backoffMaxMs: 0 };
  const actor = createActor(machine, {
    ...(clock ? { clock } : {}),
    input: {
      sessionId: 's1',
      params: sessionParams,
      throttle: policy,
      restart,
      ...(clock ? { now: () => clock.now() } : {}),
      ...(control ? { control } : {}),
    },
  }).start();
  const state = () => sessionStateName(actor.getSnapshot().value);
  return { actor, capture, closed, state, answers };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('session machine', () => {
  it('launches on a ready host, idles with no viewer and captures nothing', async () => {
    const { actor, capture, state } = start();
    expect(state()).toBe('launching');
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    expect(state()).toBe('idle');
    expect(capture.log.started).toHaveLength(0);
  });

  it('streams while watched and goes back to idle when the last viewer leaves', async () => {
    const { actor, capture, state } = start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    expect(state()).toBe('streaming');
    expect(capture.log.started).toHaveLength(1);
    expect(capture.log.started[0]?.codec).toBe('H264');
    actor.send(viewer('v2'));
    expect(capture.log.started).toHaveLength(1); // one encoder whatever the viewers
    actor.send({ type: 'viewer.left', viewerId: 'v1' });
    expect(state()).toBe('streaming');
    actor.send({ type: 'viewer.left', viewerId: 'v2' });
    expect(state()).toBe('idle');
    expect(capture.log.stopped).toBe(1);
  });

  it('refuses a second viewer whose codec differs from the running encoder', async () => {
    const { actor, state } = start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1', 'VP8'));
    actor.send(viewer('v2', 'H264'));
    expect(Object.keys(actor.getSnapshot().context.viewers)).toEqual(['v1']);
    expect(actor.getSnapshot().context.codec).toBe('VP8');
    expect(state()).toBe('streaming');
  });

  it('throttles after persistent overload and recovers with hysteresis', async () => {
    const { actor, capture, state } = start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    actor.send({ type: 'capture.stats', stats: stats(true) });
    expect(state()).toBe('streaming'); // one bad window is not enough
    actor.send({ type: 'capture.stats', stats: stats(true) });
    expect(state()).toBe('throttled');
    expect(actor.getSnapshot().context.currentFps).toBe(15);
    expect(capture.log.commands).toContainEqual({ type: 'capture.rate', fps: 15 });
    actor.send({ type: 'capture.stats', stats: stats(false) });
    actor.send({ type: 'capture.stats', stats: stats(true) }); // relapse resets the count
    actor.send({ type: 'capture.stats', stats: stats(false) });
    actor.send({ type: 'capture.stats', stats: stats(false) });
    expect(state()).toBe('throttled');
    actor.send({ type: 'capture.stats', stats: stats(false) });
    expect(state()).toBe('streaming');
    expect(capture.log.commands.at(-1)).toEqual({ type: 'capture.rate', fps: 30 });
    expect(actor.getSnapshot().context.stats.deliveredFps).toBe(30);
  });

  it('remembers its recent best FPS, fading once the page stops moving, from zero after a restart', async () => {
    const { actor, state } = start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    const window = (deliveredFps: number) =>
      actor.send({ type: 'capture.stats', stats: { ...stats(false), deliveredFps } });
    window(30);
    window(0);
    const peak = () => actor.getSnapshot().context.peakFps;
    expect(peak()).toBeGreaterThan(25);
    for (let i = 0; i < 20; i++) window(0);
    expect(peak()).toBeLessThan(20);
    expect(peak()).toBeGreaterThan(0);
    actor.send({ type: 'viewer.left', viewerId: 'v1' });
    actor.send(viewer('v2'));
    expect(state()).toBe('streaming');
    expect(peak()).toBe(0);
  });

  it('ignores overload in the first windows of a capture (encoder start-up)', async () => {
    const capture = fakeCapture();
    const machine = sessionMachine.provide({
      actors: {
        openPage: fakePage,
        closePage: fromPromise(async () => {}),
        navigatePage: fromCallback(() => {}),
        watchPage: fromCallback(() => {}),
        capture: capture.logic,
        viewer: fakeViewer,
      },
    });
    const actor = createActor(machine, {
      input: { sessionId: 's1', params, throttle: { ...policy, warmupWindows: 2 } },
    }).start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    actor.send({ type: 'capture.stats', stats: stats(true) });
    actor.send({ type: 'capture.stats', stats: stats(true) });
    expect(sessionStateName(actor.getSnapshot().value)).toBe('streaming');
    actor.send({ type: 'capture.stats', stats: stats(true) });
    actor.send({ type: 'capture.stats', stats: stats(true) });
    expect(sessionStateName(actor.getSnapshot().value)).toBe('throttled');
  });

  it('enters throttled on encoder backlog alone', async () => {
    const { actor, state } = start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    const backlog = { ...stats(false), backlog: 20 };
    actor.send({ type: 'capture.stats', stats: backlog });
    actor.send({ type: 'capture.stats', stats: backlog });
    expect(state()).toBe('throttled');
  });

  it('keeps counting dropped frames across captures', async () => {
    const { actor } = start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    actor.send({ type: 'capture.stats', stats: { ...stats(false), droppedTotal: 7 } });
    actor.send({ type: 'viewer.left', viewerId: 'v1' });
    actor.send(viewer('v2'));
    actor.send({ type: 'capture.stats', stats: { ...stats(false), droppedTotal: 3 } });
    expect(actor.getSnapshot().context.stats.droppedTotal).toBe(10);
  });

  it('restarts a failed screencast a few times, then the session (no budget here: failed, with the reason)', async () => {
    const { actor, capture, state } = start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    for (let i = 0; i < 3; i++) capture.report({ type: 'capture.failed', reason: 'encoder exited' });
    expect(capture.log.started).toHaveLength(4);
    expect(state()).toBe('streaming');
    capture.report({ type: 'capture.failed', reason: 'encoder exited' });
    expect(state()).toBe('failed');
    expect(actor.getSnapshot().context.failure).toBe('encoder exited');
    expect(actor.getSnapshot().context.viewers).toEqual({});
  });

  it('falls back from a failing tab capture to the screencast for the same viewers', async () => {
    const { actor, capture, state } = start({}, 0, { ...params, capture: 'tab' });
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    expect(capture.log.started[0]?.strategy).toBe('tab');
    for (let i = 0; i < 4; i++)
      capture.report({ type: 'capture.failed', reason: 'tab capture: grant refused' });
    expect(state()).toBe('streaming');
    expect(capture.log.started).toHaveLength(5);
    expect(capture.log.started[4]?.strategy).toBe('screencast');
    const { context } = actor.getSnapshot();
    expect([context.captureStrategy, context.captureFallback]).toEqual([
      'screencast',
      'tab capture: grant refused',
    ]);
    expect(Object.keys(context.viewers)).toEqual(['v1']);
    // The screencast gets its own restarts before the session gives up.
    for (let i = 0; i < 3; i++) capture.report({ type: 'capture.failed', reason: 'encoder exited' });
    expect(state()).toBe('streaming');
  });

  it('records a failure as one sentence, not a stack trace', async () => {
    const { actor } = start({
      openPage: fromPromise<PageHandle, { browser: BrowserHandle; sessionId: string; params: SessionParams }>(
        async () => {
          throw new TypeError(
            "Cannot read properties of undefined (reading 'getUserMedia')\n    at offer (x.js:1:2)",
          );
        },
      ),
    });
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    expect(actor.getSnapshot().context.failure).toBe(
      "Cannot read properties of undefined (reading 'getUserMedia')",
    );
  });

  it('survives a viewer actor that throws, dropping only that viewer', async () => {
    const { actor, state } = start({
      viewer: fromCallback<ViewerCommand, ViewerInput>(({ input, sendBack }) => {
        if (input.offer.viewerId === 'bad') throw new Error('peer exploded');
        sendBack({ type: 'viewer.join', viewer: input.offer });
        return () => {};
      }),
    });
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('good'));
    actor.send(viewer('bad'));
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    expect(Object.keys(actor.getSnapshot().context.viewers)).toEqual(['good']);
    expect(state()).toBe('streaming');
  });

  it("hands a viewer's ICE restart to its actor and passes the answer on; a viewer it has not is answered so", async () => {
    const restarts: ViewerCommand[] = [];
    const { actor } = start({
      viewer: fromCallback<ViewerCommand, ViewerInput>(({ input, sendBack, receive }) => {
        sendBack({ type: 'viewer.join', viewer: input.offer });
        receive((command) => {
          if (command.type !== 'viewer.iceRestart') return;
          restarts.push(command);
          sendBack({
            type: 'viewer.iceRestarted',
            requestId: command.requestId,
            fragment: 'a=ice-ufrag:srv1',
            etag: '"2"',
          });
        });
      }),
    });
    const answers: unknown[] = [];
    actor.on('viewer.iceRestarted', (event) => answers.push(event));
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    const credentials = { ufrag: 'new1', pwd: 'newpassword0123456789012' };
    actor.send({ type: 'viewer.iceRestart', viewerId: 'v1', requestId: 'r1', credentials });
    actor.send({ type: 'viewer.iceRestart', viewerId: 'nobody', requestId: 'r2', credentials });
    await settle();
    expect(restarts).toEqual([{ type: 'viewer.iceRestart', requestId: 'r1', credentials }]);
    expect(answers).toEqual([
      { type: 'viewer.iceRestarted', requestId: 'r1', fragment: 'a=ice-ufrag:srv1', etag: '"2"' },
      { type: 'viewer.iceRestarted', requestId: 'r2', error: 'the viewer is not connected' },
    ]);
  });

  it('forwards keyframe requests to the capture', async () => {
    const { actor, capture } = start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    actor.send({ type: 'keyframe.request' });
    expect(capture.log.commands).toContainEqual({ type: 'capture.keyframe' });
  });

  it('navigates through the navigatePage actor and records the result', async () => {
    const { actor } = start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send({ type: 'navigate', requestId: 'r1', url: 'http://127.0.0.1/next' });
    await settle();
    expect(actor.getSnapshot().context.lastNavigation).toEqual({
      requestId: 'r1',
      url: 'http://127.0.0.1/next',
    });
    expect(actor.getSnapshot().context.url).toBe('http://127.0.0.1/next');
  });

  it('fails when the page cannot open, or the host fails or crashes', async () => {
    const broken = start({
      openPage: fromPromise<PageHandle, { browser: BrowserHandle; sessionId: string; params: SessionParams }>(
        async () => {
          throw new Error('context refused');
        },
      ),
    });
    broken.actor.send({ type: 'host.ready', browser: host });
    await settle();
    expect(broken.state()).toBe('failed');
    expect(broken.actor.getSnapshot().context.failure).toBe('context refused');

    const noHost = start();
    noHost.actor.send({ type: 'host.failed', reason: 'no chromium' });
    expect(noHost.state()).toBe('failed');

    const crashed = start();
    crashed.actor.send({ type: 'host.ready', browser: host });
    await settle();
    crashed.actor.send(viewer('v1'));
    crashed.actor.send({ type: 'host.crashed', reason: 'browser process exited unexpectedly' });
    expect(crashed.state()).toBe('failed');
    expect(crashed.capture.log.stopped).toBe(1);
  });

  it('closes through closing to closed, releasing the page', async () => {
    const { actor, closed, state } = start();
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    actor.send(viewer('v1'));
    actor.send({ type: 'close' });
    expect(state()).toBe('closing');
    await settle();
    expect(state()).toBe('closed');
    expect(actor.getSnapshot().status).toBe('done');
    expect(closed).toEqual([{ sessionId: 's1' }]);
  });

  it('closes at once while still waiting for a host', () => {
    const { actor, state } = start();
    actor.send({ type: 'close' });
    expect(state()).toBe('closed');
  });

  it('leaves failed by close (resume and navigate revive it: see the pool machine tests)', async () => {
    const { actor, state } = start();
    actor.send({ type: 'host.failed', reason: 'x' });
    actor.send(viewer('v1'));
    expect(state()).toBe('failed');
    actor.send({ type: 'close' });
    expect(state()).toBe('closed');
    await settle();
    void noop;
  });

  describe('the frozen tier (unwatched: "frozen")', () => {
    /** Every freeze, thaw, capture start and navigation, in the order the session asked for them. */
    function startFreezing(unwatched: SessionParams['unwatched']) {
      const clock = new SimulatedClock();
      const steps: string[] = [];
      const session = start(
        {
          freezePages: fromCallback(() => {
            steps.push('freeze');
            return () => steps.push('thaw');
          }),
          capture: fromCallback(() => {
            steps.push('capture');
          }),
          navigatePage: fromCallback(({ input, sendBack }) => {
            steps.push(`navigate ${input.url}`);
            sendBack({ type: 'navigate.done', result: { requestId: input.requestId, url: input.url } });
          }),
        },
        0,
        { ...params, unwatched },
        clock,
      );
      session.actor.send({ type: 'host.ready', browser: host });
      return { ...session, clock, steps };
    }

    it("freezes an unwatched session after freezeAfterMs and thaws it before a viewer's capture starts", async () => {
      const { actor, clock, state, steps } = startFreezing('frozen');
      await settle();
      steps.splice(0); // the first navigation
      clock.increment(2900);
      expect(state()).toBe('idle');
      clock.increment(100);
      expect(state()).toBe('frozen');
      expect(actor.getSnapshot().hasTag('frozen')).toBe(true);
      expect(actor.getSnapshot().hasTag('live')).toBe(true);
      actor.send(viewer('v1'));
      expect(state()).toBe('streaming');
      expect(steps).toEqual(['freeze', 'thaw', 'capture']);
      clock.increment(60_000); // watched: never frozen
      expect(steps).toEqual(['freeze', 'thaw', 'capture']);
      actor.send({ type: 'viewer.left', viewerId: 'v1' });
      expect(state()).toBe('idle');
      clock.increment(3000);
      expect(state()).toBe('frozen');
      expect(steps).toEqual(['freeze', 'thaw', 'capture', 'freeze']);
    });

    it('wakes for a command that needs the page, handles it on the thawed page, then freezes again', async () => {
      const { actor, clock, state, steps } = startFreezing('frozen');
      await settle();
      steps.splice(0);
      clock.increment(3000);
      // A frozen page runs no probe: its silence is not a hang.
      actor.send({ type: 'page.unresponsive', reason: 'probe', probeStartedAt: clock.now() });
      expect(state()).toBe('frozen');
      expect(actor.getSnapshot().context.restartsTotal).toBe(0);
      actor.send({ type: 'navigate', requestId: 'r1', url: 'http://127.0.0.1/next' });
      expect(steps).toEqual(['freeze', 'thaw', 'navigate http://127.0.0.1/next']);
      expect(state()).toBe('idle');
      expect(actor.getSnapshot().context.url).toBe('http://127.0.0.1/next');
      clock.increment(3000);
      expect(state()).toBe('frozen');
    });

    it('keeps a session driven by a CDP client running: thawed on attach, never frozen meanwhile, frozen again after the last leaves', async () => {
      const { actor, clock, state, steps } = startFreezing('frozen');
      await settle();
      steps.splice(0);
      clock.increment(3000);
      expect(state()).toBe('frozen');
      actor.send({ type: 'automation.attached' });
      actor.send({ type: 'automation.attached' });
      expect(state()).toBe('idle');
      expect(steps).toEqual(['freeze', 'thaw']);
      expect(actor.getSnapshot().context.automationClients).toBe(2);
      clock.increment(60_000);
      expect(state()).toBe('idle');
      actor.send({ type: 'automation.detached' });
      clock.increment(60_000); // one client is still there
      expect(state()).toBe('idle');
      actor.send({ type: 'automation.detached' });
      expect(actor.getSnapshot().context.automationClients).toBe(0);
      clock.increment(2999);
      expect(state()).toBe('idle');
      clock.increment(1);
      expect(state()).toBe('frozen');
    });

    it.each(['visible', 'hidden'] as const)(
      'never freezes a session whose unwatched is %s',
      async (unwatched) => {
        const { clock, state, steps } = startFreezing(unwatched);
        await settle();
        clock.increment(600_000);
        expect(state()).toBe('idle');
        expect(steps.filter((step) => step === 'freeze')).toEqual([]);
      },
    );
  });

  describe('JavaScript dialogs', () => {
    const confirm: PageDialog = {
      type: 'confirm',
      message: 'Proceed?',
      defaultPrompt: '',
      url: 'http://127.0.0.1/',
    };
    const opened = (dialog: PageDialog = confirm) => ({ type: 'dialog.opened' as const, dialog });

    it('surfaces a dialog, answers it for a client, and says so', async () => {
      const { actor, answers } = start();
      actor.send({ type: 'host.ready', browser: host });
      await settle();
      const news: string[] = [];
      actor.on('*', (event) => {
        if (event.type.startsWith('dialog.'))
          news.push(`${event.type}${'by' in event ? ` by ${event.by}` : ''}`);
      });
      actor.send(opened());
      expect(actor.getSnapshot().context.dialog).toMatchObject({ ...confirm, id: 1 });
      expect(answers).toEqual([]);
      actor.send({ type: 'dialog.answer', accept: false });
      expect(answers).toEqual([{ type: 'dialog.answer', accept: false, promptText: undefined }]);
      expect(actor.getSnapshot().context.dialog).toBeUndefined();
      expect(news).toEqual(['dialog.opened', 'dialog.closed by client']);
    });

    it('answers at once under the accept and dismiss policies (a prompt gets its default)', async () => {
      const accepting = start({}, 0, { ...params, dialogs: 'accept' });
      accepting.actor.send({ type: 'host.ready', browser: host });
      await settle();
      accepting.actor.send(opened({ ...confirm, type: 'prompt', defaultPrompt: 'castpool' }));
      expect(accepting.answers).toEqual([{ type: 'dialog.answer', accept: true, promptText: 'castpool' }]);
      expect(accepting.actor.getSnapshot().context.dialog).toBeUndefined();
      const dismissing = start({}, 0, { ...params, dialogs: 'dismiss' });
      dismissing.actor.send({ type: 'host.ready', browser: host });
      await settle();
      dismissing.actor.send(opened());
      expect(dismissing.answers).toEqual([{ type: 'dialog.answer', accept: false, promptText: undefined }]);
    });

    it('dismisses a surfaced dialog nobody answered once its time is up, and only that one', async () => {
      const clock = new SimulatedClock();
      const { actor, answers } = start({}, 0, { ...params, dialogTimeoutMs: 30_000 }, clock);
      actor.send({ type: 'host.ready', browser: host });
      await settle();
      actor.send(opened());
      clock.increment(20_000);
      actor.send({ type: 'dialog.closed', accepted: true }); // a viewer's click answered it in the page
      actor.send(opened({ ...confirm, message: 'Again?' }));
      clock.increment(10_000); // the first dialog's timer: not this one's
      expect(answers).toEqual([]);
      expect(actor.getSnapshot().context.dialog?.message).toBe('Again?');
      clock.increment(20_000);
      expect(answers).toEqual([{ type: 'dialog.answer', accept: false, promptText: undefined }]);
      expect(actor.getSnapshot().context.dialog).toBeUndefined();
    });

    it('leaves through a beforeunload for a navigation it was asked for, and answers a waiting dialog first', async () => {
      const { actor, answers } = start({ navigatePage: fromCallback(() => {}) });
      actor.send({ type: 'host.ready', browser: host });
      await settle();
      actor.send({ type: 'navigate', requestId: 'r1', url: 'http://127.0.0.1/next' });
      actor.send(opened({ ...confirm, type: 'beforeunload', message: '' }));
      expect(answers).toEqual([{ type: 'dialog.answer', accept: true, promptText: '' }]);
      expect(actor.getSnapshot().context.dialog).toBeUndefined();
      actor.send(opened());
      expect(actor.getSnapshot().context.dialog?.type).toBe('confirm'); // not a beforeunload: surfaced
      actor.send({ type: 'navigate', requestId: 'r2', url: 'http://127.0.0.1/other' });
      expect(answers.at(-1)).toEqual({ type: 'dialog.answer', accept: true, promptText: undefined });
      expect(actor.getSnapshot().context.dialog).toBeUndefined();
    });

    it('is not hung while a dialog waits or a load is pending; hung otherwise', async () => {
      const { actor, state } = start({ navigatePage: fromCallback(() => {}) });
      actor.send({ type: 'host.ready', browser: host });
      await settle();
      const probeLate = { type: 'page.unresponsive' as const, reason: 'renderer did not answer a probe' };
      actor.send(probeLate); // the first load has not reported
      expect(state()).toBe('idle');
      actor.send({ type: 'navigate.done', result: { requestId: 'initial', url: 'http://127.0.0.1/' } });
      actor.send(opened());
      actor.send(probeLate);
      expect(state()).toBe('idle');
      actor.send({ type: 'dialog.answer', accept: true });
      // A probe begun while the dialog waited comes back late after the answer: it waited on the dialog.
      const answeredAt = actor.getSnapshot().context.busyEndedAt;
      actor.send({ ...probeLate, probeStartedAt: answeredAt - 500 });
      expect(state()).toBe('idle');
      actor.send({ ...probeLate, probeStartedAt: answeredAt + 1 });
      expect(state()).toBe('failed'); // no restart budget in these tests
      expect(actor.getSnapshot().context.failure).toBe('renderer did not answer a probe');
    });
  });

  describe('viewers joining', () => {
    /** A viewer actor that negotiates until the test says how it ends. */
    function negotiating() {
      const stopped: string[] = [];
      const answer = new Map<string, (outcome: 'answered' | 'unanswered') => void>();
      const logic = fromCallback<ViewerCommand, ViewerInput>(({ input, sendBack }) => {
        answer.set(input.offer.viewerId, (outcome) =>
          sendBack(
            outcome === 'answered'
              ? { type: 'viewer.join', viewer: input.offer }
              : {
                  type: 'viewer.unanswered',
                  viewerId: input.offer.viewerId,
                  reason: 'no video in the offer',
                },
          ),
        );
        return () => stopped.push(input.offer.viewerId);
      });
      return {
        logic,
        stopped,
        answer: (id: string, outcome: 'answered' | 'unanswered') => answer.get(id)?.(outcome),
      };
    }
    type Emitted = { type: string; viewerId?: string; retryable?: boolean; viewer?: { viewerId: string } };
    function listen(actor: ReturnType<typeof start>['actor']) {
      const heard: Emitted[] = [];
      actor.on('viewer.joined', (event) => heard.push(event));
      actor.on('viewer.refused', (event) => heard.push(event));
      return heard;
    }

    it('captures for an offer while it negotiates, in its codec, and announces the join', async () => {
      const viewers = negotiating();
      const { actor, capture, state } = start({ viewer: viewers.logic });
      const heard = listen(actor);
      actor.send({ type: 'host.ready', browser: host });
      await settle();
      actor.send(viewer('v1', 'VP8'));
      expect(state()).toBe('streaming');
      expect(capture.log.started[0]?.codec).toBe('VP8');
      expect(actor.getSnapshot().context.viewers).toEqual({});
      viewers.answer('v1', 'answered');
      expect(Object.keys(actor.getSnapshot().context.viewers)).toEqual(['v1']);
      expect(actor.getSnapshot().context.offers).toEqual({});
      expect(heard).toEqual([{ type: 'viewer.joined', viewer: { viewerId: 'v1', codec: 'VP8' } }]);
    });

    it('drops an offer its viewer actor cannot answer, stops that actor and idles again', async () => {
      const viewers = negotiating();
      const { actor, state } = start({ viewer: viewers.logic });
      const heard = listen(actor);
      actor.send({ type: 'host.ready', browser: host });
      await settle();
      actor.send(viewer('v1'));
      viewers.answer('v1', 'unanswered');
      expect(state()).toBe('idle');
      expect(viewers.stopped).toEqual(['v1']);
      expect(heard).toEqual([
        { type: 'viewer.refused', viewerId: 'v1', reason: 'no video in the offer', retryable: false },
      ]);
    });

    it('refuses an offer in another codec than the one encoding, and any offer while not live', async () => {
      const viewers = negotiating();
      const { actor } = start({ viewer: viewers.logic });
      const heard = listen(actor);
      actor.send(viewer('early'));
      actor.send({ type: 'host.ready', browser: host });
      await settle();
      actor.send(viewer('h264'));
      actor.send(viewer('vp8', 'VP8'));
      expect(Object.keys(actor.getSnapshot().context.offers)).toEqual(['h264']);
      expect(heard.map(({ viewerId, retryable }) => ({ viewerId, retryable }))).toEqual([
        { viewerId: 'early', retryable: true },
        { viewerId: 'vp8', retryable: true },
      ]);
    });

    it('stops viewers still negotiating when the session hibernates or closes, refusing them', async () => {
      const viewers = negotiating();
      const { actor } = start({
        viewer: viewers.logic,
        hibernatePage: fromPromise(async () => ({ url: 'x' })),
      });
      const heard = listen(actor);
      actor.send({ type: 'host.ready', browser: host });
      await settle();
      actor.send(viewer('v1'));
      actor.send({ type: 'close' });
      expect(viewers.stopped).toEqual(['v1']);
      expect(actor.getSnapshot().context.offers).toEqual({});
      expect(heard).toEqual([
        expect.objectContaining({ type: 'viewer.refused', viewerId: 'v1', retryable: true }),
      ]);
    });

    it('refuses a join that arrives after the session stopped being live, stopping its actor', async () => {
      const viewers = negotiating();
      const { actor, state } = start({ viewer: viewers.logic }, 1);
      const heard = listen(actor);
      actor.send({ type: 'host.ready', browser: host });
      await settle();
      actor.send(viewer('v1'));
      // The join races the session's own end: the machine decides, the actor follows.
      actor.send({ type: 'page.crashed', reason: 'renderer gone' });
      expect(state()).toBe('restarting');
      viewers.answer('v1', 'answered');
      expect(actor.getSnapshot().context.viewers).toEqual({});
      expect(actor.getSnapshot().context.offers).toEqual({});
      expect(viewers.stopped).toEqual(['v1']);
      expect(heard.at(-1)).toEqual(
        expect.objectContaining({ type: 'viewer.refused', viewerId: 'v1', retryable: true }),
      );
      actor.stop(); // before its backoff asks a pool (there is none here) for a host
    });
  });

  describe('tabs', () => {
    /** A session watched by one viewer, with a tabs actor that records what it is told. */
    async function withTabs(restarts = 0) {
      const told: TabCommand[] = [];
      const tabs = fromCallback<TabCommand, { page: PageHandle; params: SessionParams; maxTabs: number }>(
        ({ receive }) => {
          receive((command) => told.push(command));
        },
      );
      const session = start({ tabs }, restarts);
      session.actor.send({ type: 'host.ready', browser: host });
      await settle();
      session.actor.send(viewer('v1'));
      const first = session.actor.getSnapshot().context.page as PageHandle;
      const changes: unknown[] = [];
      session.actor.on('tab.changed', (event) => changes.push([event.change, event.tabId]));
      const open = (name: string) => {
        const page: PageHandle = { sessionId: name };
        session.actor.send({ type: 'tab.opened', page, url: `http://127.0.0.1/${name}`, title: name });
        return page;
      };
      const list = () =>
        session.actor
          .getSnapshot()
          .context.tabs.map(
            (tab) => `${tab.id}${tab.page === session.actor.getSnapshot().context.page ? '*' : ''}`,
          );
      return { ...session, told, first, changes, open, list };
    }

    it('makes a window the page opened the active tab: the capture starts again on its page', async () => {
      const { actor, capture, told, open, list, state, changes } = await withTabs();
      expect(list()).toEqual(['tab-1*']);
      const popup = open('popup');
      expect(list()).toEqual(['tab-1', 'tab-2*']);
      expect(state()).toBe('streaming');
      expect(capture.log.started.map((input) => input.page)).toEqual([expect.anything(), popup]);
      expect(told).toEqual([{ type: 'tabs.active', page: popup }]);
      expect(actor.getSnapshot().context.url).toBe('http://127.0.0.1/popup');
      expect(changes).toEqual([['opened', 'tab-2']]);
    });

    it("opens a client's tab through the tabs actor (refused at the limit); the active tab's navigations move the session's URL", async () => {
      const { actor, told, first, open, list, changes } = await withTabs();
      actor.send({ type: 'tab.open', url: 'http://127.0.0.1/asked' });
      expect(told).toEqual([{ type: 'tabs.open', url: 'http://127.0.0.1/asked' }]);
      const background = open('second');
      actor.send({ type: 'tab.updated', page: background, url: 'http://127.0.0.1/moved', title: 'moved' });
      expect(actor.getSnapshot().context.url).toBe('http://127.0.0.1/moved');
      actor.send({ type: 'tab.updated', page: first, url: 'http://127.0.0.1/elsewhere', title: 'x' });
      expect(actor.getSnapshot().context.url).toBe('http://127.0.0.1/moved'); // not the active tab
      actor.send({ type: 'tab.updated', page: background, url: 'about:blank', title: '' });
      expect(actor.getSnapshot().context.url).toBe('http://127.0.0.1/moved'); // not a page to reopen
      for (let i = 3; i <= 8; i++) open(`tab${i}`);
      expect(list()).toHaveLength(8);
      told.splice(0);
      actor.send({ type: 'tab.open', url: 'http://127.0.0.1/ninth' });
      expect(told).toEqual([]);
      expect(changes.at(-1)).toEqual(['refused', '']);
    });

    it('switches and closes tabs; closing the active one hands over to its neighbour', async () => {
      const { actor, capture, told, first, open, list } = await withTabs();
      const second = open('second');
      const third = open('third');
      actor.send({ type: 'tab.activate', tabId: 'tab-1' });
      expect(list()).toEqual(['tab-1*', 'tab-2', 'tab-3']);
      expect(capture.log.started.at(-1)?.page).toBe(first);
      actor.send({ type: 'tab.activate', tabId: 'tab-1' }); // already active: nothing starts again
      expect(capture.log.started).toHaveLength(4);
      actor.send({ type: 'tab.close', tabId: 'tab-2' }); // a background tab
      expect(list()).toEqual(['tab-1*', 'tab-3']);
      expect(told).toContainEqual({ type: 'tabs.close', page: second });
      expect(capture.log.started).toHaveLength(4);
      actor.send({ type: 'tab.activate', tabId: 'tab-3' });
      actor.send({ type: 'tab.close', tabId: 'tab-3' }); // the active one
      expect(list()).toEqual(['tab-1*']);
      expect(told).toContainEqual({ type: 'tabs.close', page: third });
      expect(capture.log.started.at(-1)?.page).toBe(first);
    });

    it('keeps a dialog with the tab it belongs to, and drops a tab that went away', async () => {
      const { actor, open, list } = await withTabs();
      const popup = open('popup');
      const confirm: PageDialog = {
        type: 'confirm',
        message: 'Stay?',
        defaultPrompt: '',
        url: 'http://127.0.0.1/',
      };
      actor.send({ type: 'dialog.opened', dialog: confirm });
      expect(actor.getSnapshot().context.dialog?.type).toBe('confirm');
      actor.send({ type: 'tab.activate', tabId: 'tab-1' });
      expect(actor.getSnapshot().context.dialog).toBeUndefined();
      expect(actor.getSnapshot().context.tabs.map((tab) => tab.dialog)).toEqual([undefined, 'confirm']);
      actor.send({ type: 'tab.gone', page: popup, reason: 'the tab closed' });
      expect(list()).toEqual(['tab-1*']);
    });

    it('closes a window past the tab limit, and restarts when its last tab goes', async () => {
      const { actor, told, first, open, list, changes, state } = await withTabs(1);
      for (let i = 0; i < 7; i++) open(`p${i}`);
      expect(list()).toHaveLength(8); // the default limit
      const ninth = open('ninth');
      expect(list()).toHaveLength(8);
      expect(told).toContainEqual({ type: 'tabs.close', page: ninth });
      expect(changes.at(-1)).toEqual(['refused', '']);
      for (const tab of actor.getSnapshot().context.tabs.slice(1))
        actor.send({ type: 'tab.gone', page: tab.page, reason: 'the tab closed' });
      expect(list()).toEqual(['tab-1*']);
      actor.send({ type: 'tab.gone', page: first, reason: 'the page closed its window' });
      expect(state()).toBe('restarting');
      expect(actor.getSnapshot().context.failure).toBe('the page closed its window');
      actor.stop();
    });
  });

  it("passes a viewer's choice in a pop-up widget to the page once, and forgets the widget when the page moves on", async () => {
    const chosen: WidgetCommand[] = [];
    const widgets = fromCallback<WidgetCommand, { page: PageHandle }>(({ receive }) => {
      receive((command) => chosen.push(command));
    });
    const { actor } = start({ widgets });
    actor.send({ type: 'host.ready', browser: host });
    await settle();
    const widget = {
      id: 1,
      kind: 'select' as const,
      options: [{ label: 'a', disabled: false }],
      selectedIndex: 0,
    };
    actor.send({ type: 'widget.opened', widget });
    expect(actor.getSnapshot().context.widget).toEqual(widget);
    actor.send({ type: 'widget.answer', id: 2, value: '0' }); // not the open one
    expect(chosen).toEqual([]);
    actor.send({ type: 'widget.answer', id: 1, value: '0' });
    actor.send({ type: 'widget.answer', id: 1, value: '0' }); // answered already
    expect(chosen).toEqual([{ type: 'widget.choose', id: 1, value: '0' }]);
    expect(actor.getSnapshot().context.widget).toBeUndefined();
    actor.send({ type: 'widget.opened', widget: { ...widget, id: 2 } });
    actor.send({ type: 'widget.closed' });
    expect(actor.getSnapshot().context.widget).toBeUndefined();
  });

  describe('the control lease', () => {
    const person = (viewerId: string) => ({ kind: 'person' as const, viewerId });
    const agent = { kind: 'agent' as const };

    /** A live session with two watching viewers whose actors record what they are told of the lease. */
    async function leased(defaultHolder: 'agent' | 'first') {
      const clock = new SimulatedClock();
      const told: Record<string, (string | null)[]> = {};
      const recordingViewer = fromCallback<ViewerCommand, ViewerInput>(({ input, sendBack, receive }) => {
        const seen: (string | null)[] = [];
        told[input.offer.viewerId] = seen;
        const note = ({ holder }: ControlLease) =>
          seen.push(holder === null ? null : holder.kind === 'agent' ? 'agent' : holder.viewerId);
        note(input.control.lease);
        receive((command) => {
          if (command.type === 'viewer.control') note(command.lease);
        });
        sendBack({ type: 'viewer.join', viewer: input.offer });
      });
      const session = start({ viewer: recordingViewer }, 0, params, clock, {
        defaultHolder,
        idleReleaseMs: 15_000,
      });
      session.actor.send({ type: 'host.ready', browser: host });
      await settle();
      session.actor.send(viewer('v1'));
      session.actor.send(viewer('v2'));
      const holder = () => {
        const held = session.actor.getSnapshot().context.control.holder;
        return held === null ? null : held.kind === 'agent' ? 'agent' : held.viewerId;
      };
      return { ...session, clock, told, holder };
    }

    it('agent first: a CDP client drives by default, a person takes over and hands back, the agent cannot take from a person', async () => {
      const { actor, holder, told } = await leased('agent');
      expect(holder()).toBeNull();
      actor.send({ type: 'automation.attached' });
      expect(holder()).toBe('agent');
      expect(actor.getSnapshot().context.control.how).toBe('default');
      actor.send({ type: 'control.take', party: person('v1'), how: 'take' });
      expect(holder()).toBe('v1');
      actor.send({ type: 'control.take', party: agent, how: 'take' });
      expect(holder()).toBe('v1'); // refused: a person holds it
      actor.send({ type: 'control.take', party: person('v2'), how: 'input' });
      expect(holder()).toBe('v1'); // nor does another person's input take it
      actor.send({ type: 'control.request', party: agent });
      expect(actor.getSnapshot().context.control.requested?.by).toEqual(agent);
      actor.send({ type: 'control.release', party: person('v2') });
      expect(holder()).toBe('v1'); // only the holder releases
      actor.send({ type: 'control.release', party: person('v1') });
      expect(holder()).toBe('agent'); // back to the default holder
      actor.send({ type: 'automation.detached' });
      expect(holder()).toBeNull();
      // Every viewer heard every change, in order: the free lease shown on joining, the agent's
      // request (the holder's control bar shows it), the hand-back.
      expect(told.v1).toEqual([null, 'agent', 'v1', 'v1', 'agent', null]);
      expect(told.v2).toEqual([null, 'agent', 'v1', 'v1', 'agent', null]);
    });

    it('first to act: input takes a free lease, which lapses after the idle limit unless the holder keeps driving', async () => {
      const { actor, holder, clock } = await leased('first');
      actor.send({ type: 'automation.attached' });
      expect(holder()).toBeNull(); // no default holder
      actor.send({ type: 'control.take', party: person('v1'), how: 'input' });
      expect(holder()).toBe('v1');
      expect(actor.getSnapshot().context.control.how).toBe('input');
      clock.increment(10_000);
      actor.send({ type: 'control.active', party: person('v1') });
      clock.increment(10_000); // 20 s after taking, 10 s after its last input
      expect(holder()).toBe('v1');
      actor.send({ type: 'control.take', party: agent, how: 'input' });
      expect(holder()).toBe('v1');
      clock.increment(5000);
      expect(holder()).toBeNull();
      actor.send({ type: 'control.take', party: agent, how: 'input' });
      expect(holder()).toBe('agent');
    });

    it('an asked-for hold never lapses; it goes when its viewer leaves, and an operator can force it', async () => {
      const { actor, holder, clock } = await leased('agent');
      actor.send({ type: 'automation.attached' });
      actor.send({ type: 'control.take', party: person('v2'), how: 'take' });
      clock.increment(600_000);
      expect(holder()).toBe('v2');
      actor.send({ type: 'viewer.left', viewerId: 'v2' });
      expect(holder()).toBe('agent');
      actor.send({ type: 'control.take', party: person('v1'), how: 'take' });
      actor.send({ type: 'control.take', party: agent, how: 'take', force: true });
      expect(holder()).toBe('agent');
      actor.send({ type: 'control.release', party: null, force: true });
      expect(holder()).toBe('agent'); // released to the default holder, which is attached
    });

    it('a request is cleared when the one who asked takes it, or leaves', async () => {
      const { actor, holder } = await leased('first');
      actor.send({ type: 'control.take', party: person('v1'), how: 'take' });
      actor.send({ type: 'control.request', party: person('v2') });
      expect(actor.getSnapshot().context.control.requested?.by).toEqual(person('v2'));
      actor.send({ type: 'viewer.left', viewerId: 'v2' });
      expect(actor.getSnapshot().context.control.requested).toBeNull();
      actor.send({ type: 'automation.attached' });
      actor.send({ type: 'control.request', party: agent });
      actor.send({ type: 'control.release', party: person('v1') });
      expect(holder()).toBeNull(); // `first`: nobody by default, even with the agent attached
      actor.send({ type: 'control.request', party: agent }); // free: a request takes it
      expect(holder()).toBe('agent');
      expect(actor.getSnapshot().context.control.requested).toBeNull();
    });
  });
});
