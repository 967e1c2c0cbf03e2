import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { Codec, Viewport } from '../machines/types.js';
import { childEnv } from '../processes/child-env.js';
import type { Gpu } from '../processes/gpu.js';
import type { ProcessTracker } from '../processes/tracker.js';

export interface EncoderOptions {
  ffmpegPath: string;
  codec: Codec;
  viewport: Viewport;
  bitrateKbps: number;
  keyframeIntervalMs: number;
  rtpPort: number;
  ssrc: number;
  owner: string;
  /** H.264 on the host's GPU (VA-API or NVENC) when there is one; VP8 stays in software. */
  gpu?: Gpu;
}

const BOUNDARY = '--castpoolframe\r\nContent-Type: image/jpeg\r\nContent-Length: ';

/** ffmpeg arguments: JPEG parts in, low-latency RTP out. Every input flag removes measured delay. */
export function encoderArgs(o: EncoderOptions): string[] {
  const keyframes = `expr:gte(t,n_forced*${o.keyframeIntervalMs / 1000})`;
  const even = o.viewport.width % 2 === 0 && o.viewport.height % 2 === 0;
  const hardware = o.codec === 'H264' && o.gpu && o.gpu.kind !== 'none' ? o.gpu : undefined;
  // VA-API encodes frames uploaded to the device (NV12); NVENC takes system-memory frames.
  const filters = [
    ...(even ? [] : ['scale=trunc(iw/2)*2:trunc(ih/2)*2']),
    ...(hardware?.kind === 'vaapi' ? ['format=nv12', 'hwupload'] : []),
  ];
  const codecArgs =
    hardware?.kind === 'vaapi'
      ? ['-c:v', 'h264_vaapi', '-profile:v', 'constrained_baseline', '-bf', '0']
      : hardware?.kind === 'nvenc'
        ? [
            '-c:v',
            'h264_nvenc',
            '-preset',
            'p1',
            '-tune',
            'ull',
            '-zerolatency',
            '1',
            '-profile:v',
            'baseline',
          ]
        : o.codec === 'H264'
          ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline']
          : [
              '-c:v',
              'libvpx',
              '-deadline',
              'realtime',
              '-cpu-used',
              '8',
              '-lag-in-frames',
              '0',
              '-auto-alt-ref',
              '0',
              '-error-resilient',
              '1',
            ];
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    ...(hardware?.kind === 'vaapi' ? ['-vaapi_device', hardware.device] : []),
    // Without these ffmpeg probes ~150 frames first: seconds of delay.
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-fflags',
    'nobuffer',
    '-flags',
    'low_delay',
    // Screencast frames are irregular: stamp them on arrival and keep them as they come.
    '-use_wallclock_as_timestamps',
    '1',
    // Multipart with Content-Length: a frame is complete when its bytes are, not when the next arrives.
    '-f',
    'mpjpeg',
    '-i',
    'pipe:0',
    '-an',
    '-fps_mode',
    'passthrough',
    ...(filters.length > 0 ? ['-vf', filters.join(',')] : []),
    ...(hardware?.kind === 'vaapi' ? [] : ['-pix_fmt', 'yuv420p']),
    ...codecArgs,
    '-b:v',
    `${o.bitrateKbps}k`,
    '-maxrate',
    `${o.bitrateKbps}k`,
    '-bufsize',
    `${Math.round(o.bitrateKbps / 2)}k`,
    '-g',
    '600',
    // The CLI cannot be asked for an IDR on a PLI: periodic keyframes bound a late joiner's wait.
    '-force_key_frames',
    keyframes,
    '-threads',
    '2',
    '-payload_type',
    '96',
    '-ssrc',
    String(o.ssrc),
    '-f',
    'rtp',
    `rtp://127.0.0.1:${o.rtpPort}?pkt_size=1200`,
  ];
}

/** One ffmpeg child per watched session. `write` never queues more than the pipe holds. */
export class FfmpegEncoder {
  private readonly stdin: Writable;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  private draining = false;
  framesWritten = 0;
  private stopping = false;

  constructor(
    options: EncoderOptions,
    private readonly processes: ProcessTracker,
    onDrain: () => void,
  ) {
    const child = spawn(options.ffmpegPath, encoderArgs(options), {
      stdio: ['pipe', 'ignore', 'pipe'],
      detached: true,
      env: childEnv(),
    });
    const tracked = processes.track(child, 'ffmpeg', options.owner);
    this.pid = tracked.pid;
    this.stdin = child.stdin as Writable;
    this.stdin.on('error', () => {}); // EPIPE after exit is reported through `exited`
    this.stdin.on('drain', () => {
      this.draining = false;
      onDrain();
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal, stderr: stderr.trim() }));
    });
  }

  /** True while the pipe still holds an earlier frame: the caller keeps its newest frame instead. */
  get busy(): boolean {
    return this.draining;
  }

  get stopped(): boolean {
    return this.stopping;
  }

  write(jpeg: Buffer): void {
    if (this.stopping) return;
    this.framesWritten++;
    this.stdin.cork();
    this.stdin.write(`${BOUNDARY}${jpeg.length}\r\n\r\n`);
    this.stdin.write(jpeg);
    const ok = this.stdin.write('\r\n');
    this.stdin.uncork();
    if (!ok) this.draining = true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stdin.end();
    await this.processes.stop(this.pid, 500);
  }
}
