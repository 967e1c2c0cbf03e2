import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { groupCpuSeconds } from './util.js';
import { watchWithWerift } from './whep-client.js';

/**
 * werift WHEP viewers in a process of their own, as remote players would be: they still share the
 * cores, but not castpool's event loop (in-process viewers could not tell castpool's stalls from
 * their own).
 */
type Codec = 'H264' | 'VP8';
type ToFarm =
  | { op: 'watch'; id: number; url: string; accepts: Codec[] }
  | { op: 'close'; id: number }
  | { op: 'exit' };
type FromFarm =
  | { op: 'watching'; id: number }
  | { op: 'closed'; id: number }
  | { op: 'error'; id: number; message: string }
  | { op: 'counts'; viewers: [number, number, number, string, number | null][] };

export interface FarmViewer {
  readonly counts: { frames: number; bytes: number };
  state(): string;
  /** From the WHEP offer to `connected`, in ms (null: not connected yet). */
  connectMs(): number | null;
  close(): Promise<void>;
}

const REPORT_MS = 200;

export function startViewerFarm() {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, CASTPOOL_VIEWER_FARM: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // A farm that died (werift throwing where nothing catches) fails what waits on it, not the bench.
  const failAll = (why: string) => {
    for (const [id, waiter] of pending) {
      pending.delete(id);
      waiter.reject(new Error(why));
    }
  };
  child.on('error', (error) => failAll(`viewer farm: ${error.message}`));
  child.on('exit', (code, signal) => failAll(`viewer farm exited (${signal ?? code})`));
  let nextId = 0;
  const viewers = new Map<
    number,
    { counts: { frames: number; bytes: number }; state: string; connectMs: number | null }
  >();
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  child.on('message', (message: FromFarm) => {
    if (message.op === 'counts') {
      for (const [id, frames, bytes, state, connectMs] of message.viewers) {
        const viewer = viewers.get(id);
        if (!viewer) continue;
        viewer.counts.frames = frames;
        viewer.counts.bytes = bytes;
        viewer.state = state;
        viewer.connectMs = connectMs;
      }
      return;
    }
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.op === 'error') waiter?.reject(new Error(message.message));
    else waiter?.resolve();
  });
  const request = (message: ToFarm & { id: number }) =>
    new Promise<void>((resolve, reject) => {
      if (!child.connected) return reject(new Error('viewer farm exited'));
      pending.set(message.id, { resolve, reject });
      child.send(message, (error) => {
        if (!error) return;
        pending.delete(message.id);
        reject(error);
      });
    });
  return {
    async watch(url: string, accepts: Codec[] = ['H264', 'VP8']): Promise<FarmViewer> {
      const id = nextId++;
      const viewer = { counts: { frames: 0, bytes: 0 }, state: 'new', connectMs: null as number | null };
      viewers.set(id, viewer);
      await request({ op: 'watch', id, url, accepts });
      return {
        counts: viewer.counts,
        state: () => viewer.state,
        connectMs: () => viewer.connectMs,
        close: async () => {
          await request({ op: 'close', id });
          viewers.delete(id);
        },
      };
    },
    /** The farm process's CPU seconds so far (its viewers' SRTP, RTP and ICE work). */
    cpuSeconds: () => (child.pid === undefined ? 0 : groupCpuSeconds(child.pid, true)),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ op: 'exit' } satisfies ToFarm);
      }),
  };
}

async function serveAsFarm(): Promise<void> {
  const viewers = new Map<number, Awaited<ReturnType<typeof watchWithWerift>>>();
  const send = (message: FromFarm) => process.send?.(message);
  const timer = setInterval(() => {
    send({
      op: 'counts',
      viewers: [...viewers].map(([id, v]) => [id, v.counts.frames, v.counts.bytes, v.state(), v.connectMs()]),
    });
  }, REPORT_MS);
  process.on('disconnect', () => process.exit(0));
  // werift throwing from its own handlers (its DTLS client on a repeated HelloVerifyRequest, before
  // bench/werift-client.ts): that viewer ends `failed` (counted), the farm and its other viewers go on.
  process.on('uncaughtException', () => {});
  process.on('unhandledRejection', () => {});
  process.on('message', async (message: ToFarm) => {
    if (message.op === 'exit') {
      clearInterval(timer);
      await Promise.all([...viewers.values()].map((v) => v.close()));
      process.exit(0);
    }
    try {
      if (message.op === 'watch') {
        viewers.set(message.id, await watchWithWerift(message.url, message.accepts));
        send({ op: 'watching', id: message.id });
      } else {
        await viewers.get(message.id)?.close();
        viewers.delete(message.id);
        send({ op: 'closed', id: message.id });
      }
    } catch (error) {
      send({ op: 'error', id: message.id, message: (error as Error).message });
    }
  });
}

if (process.env.CASTPOOL_VIEWER_FARM === '1') void serveAsFarm();
