import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fromCallback, fromPromise } from 'xstate';
import type { RecorderCommand, RecorderInput } from '../machines/types.js';
import { recordingFormat, recordingSdp } from '../media/recording-format.js';
import { childEnv } from '../processes/child-env.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';
import type { RecordingArchive } from './recording-archive.js';
import type { RecordingSpace } from './recording-space.js';

/** How often the file's size is read (progress, limits), and a waiting recorder asks for a keyframe. */
const CHECK_MS = 1000;
/** ffmpeg has this long to bind its port. */
const BIND_LIMIT_MS = 5000;
/**
 * ffmpeg's input ends after this many seconds without a packet (it then writes its index and exits).
 * SIGTERM is seen only between packets: a stop while the stream is paused (a restart) waits for this.
 */
const SILENCE_LIMIT_S = 30;
/** ffmpeg has this long after SIGTERM to write the index (cues, duration) before it is killed. */
const FINALISE_LIMIT_MS = (SILENCE_LIMIT_S + 5) * 1000;
/** A stream this quiet (a still page under tab capture sends nothing) gets a keyframe asked for. */
const QUIET_MS = 5000;

/**
 * One recording: the session's fan-out RTP (what viewers get, no second encode) sent over loopback UDP
 * to an ffmpeg that copies it into Matroska (H.264) or WebM (VP8). It joins the fan-out like a viewer
 * (from a keyframe on, asking for one), so the capture runs while it records; the fan-out already
 * carries one continuous stream across navigations, restarts and source switches. Stopping sends ffmpeg
 * SIGTERM, on which it writes the index: the file is seekable and knows its duration.
 */
export function recorderActor(deps: ActorDeps, space: RecordingSpace, archive: RecordingArchive) {
  return fromCallback<RecorderCommand, RecorderInput>(({ input, sendBack, receive }) => {
    const { sessionId, recordingId, codec, maxBytes } = input;
    const { fanout, audio } = input.page as SessionPage;
    const format = recordingFormat(codec);
    const path = archive.path(sessionId, { id: recordingId, codec });
    const sinkId = `recording:${recordingId}`;
    let socket: Socket | undefined;
    let ffmpeg:
      | { pid: number; exited: Promise<{ code: number | null; stderr: string }>; gone: boolean }
      | undefined;
    let timer: NodeJS.Timeout | undefined;
    let begun = false;
    let ending: Promise<void> | undefined;
    let stopped = false;

    const bytesNow = async () => (await stat(path).catch(() => undefined))?.size ?? 0;

    /** Detach from the stream, let ffmpeg write its index, and report once (unless the session stopped us). */
    const finish = (asked: string, failure?: string) => {
      let reason = asked;
      ending ??= (async () => {
        clearInterval(timer);
        // A keyframe reached ffmpeg (the sink stopped waiting), even if no check has seen it yet.
        begun ||= socket !== undefined && !fanout.isWaiting(sinkId);
        let error = failure;
        if (ffmpeg) {
          const exitedBefore = ffmpeg.gone;
          // ffmpeg sees SIGTERM between two packets: the stream keeps flowing (a keyframe asked for,
          // should the page be still) until it has written its index and exited.
          if (!stopped) sendBack({ type: 'keyframe.request' });
          await deps.processes.stop(ffmpeg.pid, FINALISE_LIMIT_MS);
          const { code, stderr } = await ffmpeg.exited;
          // Before we asked: a failure, or (exit 0) the stream paused past ffmpeg's silence limit.
          if (!error && exitedBefore && code !== 0)
            error = `the recorder stopped: ${stderr.split('\n').pop() || `exit ${code}`}`;
          else if (exitedBefore) reason = `the stream paused for over ${SILENCE_LIMIT_S} s`;
        }
        fanout.remove(sinkId);
        audio.remove(sinkId);
        socket?.close();
        const bytes = await bytesNow();
        if (!error && (!begun || bytes === 0)) error = 'nothing was recorded (no keyframe arrived)';
        space.set(sessionId, recordingId, bytes);
        deps.metrics.recordings.inc({ outcome: error ? 'failed' : 'completed' });
        // Its record beside the file: the recording outlives the session (and a restart).
        archive.finished(sessionId, {
          id: recordingId,
          state: error ? 'failed' : 'completed',
          codec,
          bytes,
          startedAt: input.startedAt,
          endedAt: Date.now(),
          reason: error ?? reason,
        });
        if (!stopped)
          sendBack({ type: 'recording.ended', recordingId, bytes, reason, ...(error ? { error } : {}) });
      })();
    };

    receive((event) => {
      if (event.type === 'recorder.stop') finish(event.reason);
    });

    const start = async () => {
      if (stopped) return;
      archive.prepare(sessionId);
      const port = await freeEvenPortPair();
      const audioPort = input.audio ? await freeEvenPortPair([port]) : undefined;
      const child = spawn(
        deps.config.ffmpegPath,
        [
          '-hide_banner',
          '-loglevel',
          'error',
          '-nostdin',
          '-protocol_whitelist',
          'pipe,udp,rtp',
          // Bound to loopback only: nothing from the network can write into a recording.
          '-localaddr',
          '127.0.0.1',
          '-listen_timeout',
          String(SILENCE_LIMIT_S),
          // The SDP names every codec: a second of probing finds the picture's size. ffmpeg's default
          // (5 s) held a file with sound at no bytes for its first seconds, and stopping it then left
          // a file with a broken header.
          '-analyzeduration',
          '1000000',
          '-f',
          'sdp',
          '-i',
          'pipe:0',
          '-map',
          '0:v',
          ...(audioPort ? ['-map', '0:a'] : []),
          '-c',
          'copy',
          '-f',
          format.muxer,
          '-n',
          path,
        ],
        { stdio: ['pipe', 'ignore', 'pipe'], detached: true, env: childEnv() },
      );
      const tracked = deps.processes.track(child, 'ffmpeg', `recording:${sessionId}`);
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-2000);
      });
      const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
        child.once('exit', (code) => resolve({ code, stderr: stderr.trim() })),
      );
      ffmpeg = { pid: tracked.pid, exited, gone: false };
      const running = ffmpeg;
      void exited.then(() => {
        running.gone = true;
      });
      child.stdin?.on('error', () => {});
      child.stdin?.end(recordingSdp(codec, port, audioPort));
      if (stopped) return;
      await boundOnLoopback(port, exited);
      if (audioPort) await boundOnLoopback(audioPort, exited);
      if (stopped || ending) return;
      socket = createSocket('udp4');
      socket.on('error', () => {}); // loopback sends do not fail but for a closing socket
      const send = socket;
      // One packet is one datagram, sent as it comes: no queue, no await (ffmpeg's UDP buffer absorbs bursts).
      fanout.add(sinkId, (packet) => send.send(packet, port, '127.0.0.1'));
      // The sound from the picture's first keyframe on: both streams of the file start together
      // (ffmpeg, without RTCP, starts each at its first packet).
      if (audioPort)
        audio.add(sinkId, (packet) => {
          if (!fanout.isWaiting(sinkId)) send.send(packet, audioPort, '127.0.0.1');
        });
      sendBack({ type: 'keyframe.request' });
      void exited.then(() => {
        if (!ending) finish('the recorder stopped');
      });
      let packetsSeen = fanout.packetsOut;
      let quietSince = Date.now();
      timer = setInterval(() => {
        void (async () => {
          if (ending) return;
          if (fanout.packetsOut !== packetsSeen) {
            packetsSeen = fanout.packetsOut;
            quietSince = Date.now();
          } else if (Date.now() - quietSince >= QUIET_MS) {
            quietSince = Date.now();
            sendBack({ type: 'keyframe.request' });
          }
          if (!begun && !fanout.isWaiting(sinkId)) {
            begun = true;
            sendBack({ type: 'recording.begun', recordingId });
          }
          if (!begun) sendBack({ type: 'keyframe.request' });
          const bytes = await bytesNow();
          if (ending) return;
          space.set(sessionId, recordingId, bytes);
          sendBack({ type: 'recording.progress', recordingId, bytes });
          if (bytes >= maxBytes) finish("the session's recording limit was reached");
          else if (space.full) finish("the node's recording storage is full");
        })();
      }, CHECK_MS);
    };
    start().catch((error: Error) => finish('the recorder could not start', error.message));

    return () => {
      stopped = true;
      // The session ended or forgot it: finalise in the background (the archive keeps the file).
      finish('the session ended');
    };
  });
}

/** Removes a finished recording's file (deleted by a client, or its retention is over). */
export function removeRecordingActor(archive: RecordingArchive) {
  return fromPromise<void, { sessionId: string; recordingId: string }>(({ input }) =>
    archive.remove(input.sessionId, input.recordingId),
  );
}

/** An even loopback UDP port whose odd neighbour is free too (ffmpeg's RTP takes both: RTP and RTCP). */
async function freeEvenPortPair(taken: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await bindUdp(0);
    const port = first.address().port;
    if (taken.includes(port)) {
      first.close();
      continue;
    }
    const next = port % 2 === 0 ? await bindUdp(port + 1).catch(() => undefined) : undefined;
    first.close();
    next?.close();
    if (next) return port;
  }
  throw new Error('no free UDP port pair on loopback');
}

function bindUdp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => resolve(socket));
  });
}

/** Waits until ffmpeg listens on the port (the kernel's socket table says so), or fails if it exits first. */
async function boundOnLoopback(port: number, exited: Promise<{ code: number | null; stderr: string }>) {
  const needle = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  let gone: { code: number | null; stderr: string } | undefined;
  void exited.then((result) => {
    gone = result;
  });
  const deadline = Date.now() + BIND_LIMIT_MS;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`the recorder exited: ${gone.stderr || `exit ${gone.code}`}`);
    if (readFileSync('/proc/net/udp', 'utf8').includes(needle)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the recorder did not open its port in time');
}
