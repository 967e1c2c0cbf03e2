import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { Protocol } from 'puppeteer-core';
import type { CaptureCommand, CaptureInput } from '../machines/types.js';
import { FramePacer } from '../media/frame-pacer.js';
import { LatestFrameSlot } from '../media/latest-frame-slot.js';
import { FrameTimer } from '../observability/metrics.js';
import type { CaptureReport } from './capture-pipeline.js';
import type { ActorDeps } from './deps.js';
import { FfmpegEncoder } from './ffmpeg-encoder.js';
import type { SessionPage } from './page.js';
import { StatsWindow } from './stats-window.js';

type SendBack = (event: CaptureReport) => void;

/** Wait this long for the screencast's own first frame before taking one screenshot (a static page sends none). */
const FIRST_FRAME_GRACE_MS = 300;
const STATS_WINDOW_MS = 1000;
/** A waiting frame goes this late, so a newer frame landing on time replaces it first. */
const PACE_TIMER_LATE_MS = 2;
/** Encoder restarts for a keyframe happen at most this often. */
const ENCODER_RESTART_GAP_MS = 500;

/**
 * Screencast strategy: CDP JPEG frames → latest-frame slot → paced writes into one ffmpeg → RTP on
 * loopback → the session's fan-out. Frames are acked at once (holding acks loses a burst's final
 * state); the rate is held here by pacing, and a newer frame always replaces an unsent one.
 */
export class ScreencastPipeline {
  private readonly slot = new LatestFrameSlot<Buffer>();
  private socket: Socket | undefined;
  private encoder: FfmpegEncoder | undefined;
  private readonly pacer: FramePacer;
  private lastWriteAt = -Infinity;
  private lastFrame: Buffer | undefined;
  private paceTimer: NodeJS.Timeout | undefined;
  private repeatTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private firstFrameTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  // counters for the current stats window
  private captured = 0;
  private offered = 0;
  private busyDrops = 0;
  private framesOutAtWindow = 0;
  private readonly window = new StatsWindow();
  private framesOutAtStart = 0;
  private encoderStartedAt = -Infinity;
  private readonly onFrame = (frame: Protocol.Page.ScreencastFrameEvent) => this.receive(frame);
  private readonly timer: FrameTimer;
  private readonly onFrameSent = () => this.timer.sent();
  /** Capture time (epoch ms) of the frame in the slot. */
  private slotCapturedAt = 0;

  constructor(
    private readonly page: SessionPage,
    private readonly input: CaptureInput,
    private readonly deps: ActorDeps,
    private readonly sendBack: SendBack,
  ) {
    this.pacer = new FramePacer(input.fps);
    const { captureToSendMs, encodeMs } = deps.metrics;
    this.timer = new FrameTimer(captureToSendMs, encodeMs, 'screencast');
  }

  async start(): Promise<void> {
    const { fanout, cdp, viewport } = this.page;
    fanout.setCodec(this.input.codec);
    fanout.onFrameSent = this.onFrameSent;
    this.framesOutAtWindow = fanout.framesOut;
    this.window.restart();
    this.framesOutAtStart = fanout.framesOut;
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (packet) => fanout.forward(packet));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    if (this.stopped) return;
    this.startEncoder();
    cdp.on('Page.screencastFrame', this.onFrame);
    await cdp.send('Page.startScreencast', {
      format: 'jpeg',
      quality: this.input.params.quality,
      maxWidth: viewport.width,
      maxHeight: viewport.height,
      everyNthFrame: 1, // >1 counts compositor frames, not time, and loses sparse changes
    });
    this.firstFrameTimer = setTimeout(() => void this.screenshotIfSilent(), FIRST_FRAME_GRACE_MS);
    this.repeatTimer = setInterval(() => this.repeatIfStatic(), this.deps.config.encoder.idleRepeatMs);
    this.statsTimer = setInterval(() => this.reportStats(), STATS_WINDOW_MS);
  }

  private startEncoder(): void {
    const { viewport, sessionId } = this.page;
    const { encoder } = this.deps.config;
    const started = new FfmpegEncoder(
      {
        ffmpegPath: this.deps.config.ffmpegPath,
        codec: this.input.codec,
        viewport,
        bitrateKbps: encoder.bitrateKbps,
        keyframeIntervalMs: encoder.keyframeIntervalMs,
        rtpPort: (this.socket as Socket).address().port,
        ssrc: randomInt(1, 2 ** 31),
        owner: sessionId,
        gpu: this.deps.gpu,
      },
      this.deps.processes,
      () => this.pump(),
    );
    this.encoder = started;
    this.page.encoders++;
    started.exited.then(() => {
      this.page.encoders--;
    });
    this.framesOutAtStart = this.page.fanout.framesOut;
    this.timer.reset();
    started.exited.then(({ code, signal, stderr }) => {
      if (!this.stopped && this.encoder === started)
        this.sendBack({ type: 'capture.failed', reason: `encoder exited (${code ?? signal}): ${stderr}` });
    });
  }

  handle(command: CaptureCommand): void {
    if (command.type === 'capture.rate') this.pacer.setFps(command.fps);
    else this.keyframeWanted();
  }

  /**
   * The ffmpeg CLI cannot be asked for an IDR. When every viewer is still waiting for a keyframe
   * (typically the first viewer, whose transport connected after the encoder's opening keyframe),
   * a fresh encoder starts with one at once; otherwise the periodic keyframes serve.
   */
  private keyframeWanted(): void {
    const { fanout } = this.page;
    const now = performance.now();
    if (this.stopped || !this.encoder || fanout.size === 0 || fanout.waitingViewers < fanout.size) return;
    if (now - this.encoderStartedAt < ENCODER_RESTART_GAP_MS) return;
    // A starting encoder opens with a keyframe anyway; restarting it again could loop under load.
    if (fanout.framesOut === this.framesOutAtStart) return;
    this.encoderStartedAt = now;
    const old = this.encoder;
    this.startEncoder();
    void old.stop();
    if (this.lastFrame && !this.slot.hasFrame) this.slot.put(this.lastFrame);
    this.lastFrame = undefined; // the next write is doubled again for the new encoder's probe
    this.pacer.reset();
    this.pump();
  }

  /** Hot path: ack, decode base64 once, replace the slot's frame, write if the pace allows. */
  private receive(frame: Protocol.Page.ScreencastFrameEvent): void {
    this.page.cdp.send('Page.screencastFrameAck', { sessionId: frame.sessionId }).catch(() => {});
    if (this.stopped) return;
    this.captured++;
    this.slotCapturedAt = frame.metadata.timestamp ? frame.metadata.timestamp * 1000 : Date.now();
    this.slot.put(Buffer.from(frame.data, 'base64'));
    this.pump();
  }

  private pump(): void {
    const encoder = this.encoder;
    if (this.stopped || !encoder || !this.slot.hasFrame) return;
    const now = performance.now();
    const wait = this.pacer.waitMs(now);
    if (wait > 0) {
      this.paceTimer ??= setTimeout(() => {
        this.paceTimer = undefined;
        this.pump();
      }, wait + PACE_TIMER_LATE_MS);
      return;
    }
    this.offered++;
    if (encoder.busy) {
      // Keep the newest frame in the slot; `drain` calls pump again.
      this.busyDrops++;
      return;
    }
    const jpeg = this.slot.take() as Buffer;
    this.lastWriteAt = now;
    this.pacer.wrote(now);
    // ffmpeg's stream probe swallows the first frame: send it twice so the first picture is not lost.
    if (!this.lastFrame) {
      encoder.write(jpeg);
      this.timer.written(this.slotCapturedAt);
    }
    this.lastFrame = jpeg;
    this.page.latestFrame = jpeg;
    encoder.write(jpeg);
    this.timer.written(this.slotCapturedAt);
  }

  /** A page that stopped changing sends nothing: repeat its last frame so keyframes keep coming. */
  private repeatIfStatic(): void {
    const encoder = this.encoder;
    if (!encoder || !this.lastFrame || encoder.busy || this.slot.hasFrame) return;
    const now = performance.now();
    if (now - this.lastWriteAt < this.deps.config.encoder.idleRepeatMs) return;
    this.lastWriteAt = now;
    encoder.write(this.lastFrame);
    this.timer.written(Date.now());
  }

  private async screenshotIfSilent(): Promise<void> {
    if (this.stopped || this.captured > 0) return;
    try {
      const { data } = await this.page.cdp.send('Page.captureScreenshot', {
        format: 'jpeg',
        quality: this.input.params.quality,
      });
      if (this.stopped || this.captured > 0) return;
      this.slotCapturedAt = Date.now();
      this.slot.put(Buffer.from(data, 'base64'));
      this.pump();
    } catch {
      // the page is navigating or gone; the screencast or the repeat timer will provide frames
    }
  }

  private reportStats(): void {
    const { fanout } = this.page;
    const delivered = fanout.framesOut - this.framesOutAtWindow;
    this.framesOutAtWindow = fanout.framesOut;
    const perSecond = this.window.close();
    const written = this.encoder?.framesWritten ?? 0; // of the current encoder, as is framesOutAtStart
    this.sendBack({
      type: 'capture.stats',
      stats: {
        deliveredFps: perSecond(delivered),
        capturedFps: perSecond(this.captured),
        offered: this.offered,
        busyDrops: this.busyDrops,
        backlog: Math.max(0, written - (fanout.framesOut - this.framesOutAtStart)),
        droppedTotal: this.slot.replaced,
      },
    });
    this.captured = 0;
    this.offered = 0;
    this.busyDrops = 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.page.latestFrame = undefined;
    // A capture that replaced this one owns the hook now.
    if (this.page.fanout.onFrameSent === this.onFrameSent) this.page.fanout.onFrameSent = undefined;
    for (const timer of [this.paceTimer, this.firstFrameTimer]) clearTimeout(timer);
    for (const timer of [this.repeatTimer, this.statsTimer]) clearInterval(timer);
    const { cdp } = this.page;
    cdp.off('Page.screencastFrame', this.onFrame);
    await cdp.send('Page.stopScreencast').catch(() => {});
    await this.encoder?.stop();
    this.socket?.close();
  }
}
