import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate';
import {
  type RecordingLimits,
  type SessionEmitted,
  sessionMachine,
  sessionStateName,
} from '../../src/machines/session.machine.js';
import type { RecorderCommand, RecorderInput } from '../../src/machines/types.js';
import { fakeCapture, fakePage, fakeViewer, host, params, policy, viewer } from './fakes.js';

const limits: RecordingLimits = { maxBytes: 1000, maxCount: 2, retentionMs: 60_000, codec: 'VP8' };

/** A session whose recorder actors are fakes: the test reports as them and reads what they were told. */
function start() {
  const clock = new SimulatedClock();
  const capture = fakeCapture();
  const recorders = new Map<
    string,
    { input: RecorderInput; commands: RecorderCommand[]; stopped: boolean; report: (e: object) => void }
  >();
  const removed: string[] = [];
  const machine = sessionMachine.provide({
    actors: {
      openPage: fakePage,
      closePage: fromPromise(async () => {}),
      navigatePage: fromCallback(() => {}),
      capture: capture.logic,
      viewer: fakeViewer,
      watchPage: fromCallback(() => {}),
      downloads: fromCallback(() => {}),
      tabs: fromCallback(() => {}),
      widgets: fromCallback(() => {}),
      fileChooser: fromCallback(() => {}),
      sessionFiles: fromCallback(() => {}),
      dialogs: fromCallback(() => {}),
      recorder: fromCallback<RecorderCommand, RecorderInput>(({ input, receive, sendBack }) => {
        const entry = {
          input,
          commands: [] as RecorderCommand[],
          stopped: false,
          report: (event: object) => sendBack(event as never),
        };
        recorders.set(input.recordingId, entry);
        receive((command) => entry.commands.push(command));
        return () => {
          entry.stopped = true;
        };
      }),
      removeRecording: fromPromise<void, { sessionId: string; recordingId: string }>(async ({ input }) => {
        removed.push(input.recordingId);
      }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: {
      sessionId: 's1',
      params,
      throttle: policy,
      restart: { max: 0, windowMs: 60_000, backoffBaseMs: 0, backoffMaxMs: 0 },
      recordingLimits: limits,
      now: () => clock.now(),
    },
  }).start();
  const emitted: SessionEmitted[] = [];
  actor.on('*', (event) => emitted.push(event));
  const state = () => sessionStateName(actor.getSnapshot().value);
  const recordings = () => actor.getSnapshot().context.recordings;
  const record = (requestId: string) => actor.send({ type: 'recording.start', requestId });
  /** A recording that began, wrote `bytes` and was finalised on a client's stop. */
  const finished = async (requestId: string, bytes: number) => {
    record(requestId);
    const id = recordings().at(-1)?.id as string;
    recorders.get(id)?.report({ type: 'recording.begun', recordingId: id });
    actor.send({ type: 'recording.stop', requestId: `${requestId}-stop`, recordingId: id });
    recorders
      .get(id)
      ?.report({ type: 'recording.ended', recordingId: id, bytes, reason: 'stopped by a client' });
    await settle();
    return id;
  };
  return { actor, clock, capture, recorders, removed, emitted, state, recordings, record, finished };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

async function live() {
  const session = start();
  session.actor.send({ type: 'host.ready', browser: host });
  await settle();
  return session;
}

describe('session recordings', () => {
  it('count as a watcher: the capture runs for a recording alone, in the configured codec, until it is finalised', async () => {
    const { actor, capture, recorders, emitted, state, recordings, record } = await live();
    expect(state()).toBe('idle');
    record('r1');
    expect(state()).toBe('streaming');
    expect(capture.log.started[0]?.codec).toBe('VP8');
    expect(emitted).toContainEqual(
      expect.objectContaining({
        type: 'recording.accepted',
        requestId: 'r1',
        recording: expect.objectContaining({ id: 'rec-1', state: 'starting' }),
      }),
    );
    const recorder = recorders.get('rec-1');
    expect(recorder?.input).toMatchObject({ sessionId: 's1', codec: 'VP8', maxBytes: 1000 });
    // Viewers join the running encode's codec only.
    actor.send(viewer('v1', 'H264'));
    expect(Object.keys(actor.getSnapshot().context.viewers)).toEqual([]);
    recorder?.report({ type: 'recording.begun', recordingId: 'rec-1' });
    recorder?.report({ type: 'recording.progress', recordingId: 'rec-1', bytes: 400 });
    expect(recordings()[0]).toMatchObject({ state: 'recording', bytes: 400 });

    actor.send({ type: 'recording.stop', requestId: 'stop-1', recordingId: 'rec-1' });
    expect(recorder?.commands).toEqual([{ type: 'recorder.stop', reason: 'stopped by a client' }]);
    expect(recordings()[0]?.state).toBe('finalizing');
    expect(state()).toBe('streaming'); // still writing its index
    recorder?.report({
      type: 'recording.ended',
      recordingId: 'rec-1',
      bytes: 420,
      reason: 'stopped by a client',
    });
    await settle();
    expect(recordings()[0]).toMatchObject({ state: 'completed', bytes: 420, reason: 'stopped by a client' });
    expect(emitted).toContainEqual(
      expect.objectContaining({ type: 'recording.stopped', requestId: 'stop-1', removed: false }),
    );
    expect(recorder?.stopped).toBe(true);
    expect(state()).toBe('idle');
    expect(capture.log.stopped).toBe(1);
  });

  it('closes a recording session only once its files are final (the capture feeding them), or after 5 s', async () => {
    const { actor, capture, recorders, recordings, record, state } = await live();
    record('r1');
    recorders.get('rec-1')?.report({ type: 'recording.begun', recordingId: 'rec-1' });
    actor.send({ type: 'close' });
    // Still live and capturing: ffmpeg acts on its stop only when a packet comes.
    expect(recorders.get('rec-1')?.commands).toEqual([
      { type: 'recorder.stop', reason: 'the session ended' },
    ]);
    expect(recordings()[0]?.state).toBe('finalizing');
    expect(state()).toBe('streaming');
    expect(capture.log.stopped).toBe(0);
    recorders
      .get('rec-1')
      ?.report({ type: 'recording.ended', recordingId: 'rec-1', bytes: 10, reason: 'the session ended' });
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(capture.log.stopped).toBe(1);

    // A recorder that never answers holds the close 5 s at most; asked again, it closes at once.
    const again = await live();
    again.record('r3');
    again.actor.send({ type: 'close' });
    expect(again.state()).toBe('streaming');
    again.actor.send({ type: 'close' });
    await settle();
    expect(again.actor.getSnapshot().status).toBe('done');
    const stuck = await live();
    stuck.record('r2');
    stuck.actor.send({ type: 'close' });
    stuck.clock.increment(4999);
    expect(stuck.actor.getSnapshot().status).toBe('active');
    stuck.clock.increment(1);
    await settle();
    expect(stuck.actor.getSnapshot().status).toBe('done');
  });

  it('refuses a second running recording, and more than the session keeps by count or bytes', async () => {
    const { emitted, record, recordings } = await live();
    const refusals = () =>
      emitted.filter((e) => e.type === 'recording.refused').map((e) => 'kind' in e && [e.kind, e.reason]);
    record('a');
    record('b');
    expect(refusals()).toEqual([['conflict', 'recording rec-1 is running: stop it first']]);
    expect(recordings()).toHaveLength(1);

    // Bytes: a recording that used the session's allowance leaves none for the next.
    const bytes = await live();
    await bytes.finished('x', 1000);
    bytes.record('y');
    expect(bytes.emitted.filter((e) => e.type === 'recording.refused')).toEqual([
      expect.objectContaining({ kind: 'storage', reason: expect.stringMatching(/use their 0 MiB/) }),
    ]);

    // Count: two kept, a third refused; the second got the allowance the first left.
    const count = await live();
    await count.finished('p', 100);
    await count.finished('q', 100);
    expect(count.recorders.get('rec-2')?.input.maxBytes).toBe(900);
    count.record('r');
    expect(count.emitted.filter((e) => e.type === 'recording.refused')).toEqual([
      expect.objectContaining({
        kind: 'storage',
        reason: 'the session keeps 2 recordings at most: delete one first',
      }),
    ]);
  });

  it('refuses a recording while the session is not live, and a stop of one it does not have', () => {
    const { actor, emitted, record } = start();
    record('early');
    actor.send({ type: 'recording.stop', requestId: 'nope', recordingId: 'rec-7' });
    expect(emitted).toEqual([
      expect.objectContaining({ type: 'recording.refused', requestId: 'early', kind: 'conflict' }),
      expect.objectContaining({ type: 'recording.refused', requestId: 'nope', kind: 'not_found' }),
    ]);
  });

  it('removes a finished recording after its retention, or at once when a client deletes it', async () => {
    const { actor, clock, removed, emitted, recordings, finished } = await live();
    await finished('one', 10);
    await finished('two', 10);
    actor.send({ type: 'recording.stop', requestId: 'delete-2', recordingId: 'rec-2' });
    expect(removed).toEqual(['rec-2']);
    expect(emitted).toContainEqual(
      expect.objectContaining({ type: 'recording.stopped', requestId: 'delete-2', removed: true }),
    );
    expect(recordings().map((r) => r.id)).toEqual(['rec-1']);
    clock.increment(59_000);
    expect(recordings()).toHaveLength(1);
    clock.increment(1000);
    await settle();
    expect(recordings()).toEqual([]);
    expect(removed).toEqual(['rec-2', 'rec-1']);
  });

  it('finalises a running recording when the session fails, and marks one whose recorder threw as failed', async () => {
    const session = await live();
    session.record('r');
    session.actor.send({ type: 'page.crashed', reason: 'renderer gone' });
    expect(session.state()).toBe('failed');
    expect(session.recorders.get('rec-1')?.commands).toEqual([
      { type: 'recorder.stop', reason: 'the session failed' },
    ]);

    const thrown = start();
    thrown.actor.send({ type: 'host.ready', browser: host });
    await settle();
    thrown.record('r');
    thrown.actor.send({ type: 'xstate.error.actor.recording:rec-1', error: new Error('disk full') });
    await settle();
    expect(thrown.recordings()[0]).toMatchObject({ state: 'failed', reason: 'disk full' });
    expect(thrown.state()).toBe('idle');
  });
});
