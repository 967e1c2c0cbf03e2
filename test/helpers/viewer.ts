import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import { TEST_ROOT } from './test-root.js';
import { viewerLaunchOptions } from './viewer-options.js';

export interface ViewerStats {
  framesDecoded: number;
  fps: number;
  width: number;
  height: number;
  codec: string;
  state: string;
  error: string;
  /** Why castpool asked the page to offer again later (503 + Retry-After), while it waits; '' otherwise. */
  waiting: string;
  connectedAt: number;
  firstFrameAt: number;
  /** The control data channel: none, open or refused: <why>. */
  control: string;
  /** How the media arrives: the selected pair's local candidate type and protocol ("host/udp", "relay/udp"). */
  route: string;
  /** This viewer's id (the last part of its WHEP resource). */
  viewerId: string;
  /** ICE restarts the page made on its WHEP resource (network changes). */
  iceRestarts: number;
  /** The session's sound: whether a track came, the player's mute, and its receiver's counters. */
  audio: { track: boolean; muted: boolean; packets: number; samples: number; level: number };
}

/** A real Chromium of the test's own, that plays sessions the way a user's browser does. */
export async function launchOwnViewerBrowser(): Promise<Browser> {
  return puppeteer.launch({ ...viewerLaunchOptions(mkdtempSync(join(TEST_ROOT, 'viewer-'))), pipe: true });
}

/**
 * A viewer browser for a test: its own context (cookies, pages apart) in the suite's shared viewer
 * Chromium (a launch is ~1.5 s; a context is a few ms); `close()` closes the context. Outside the
 * suite (no shared Chromium) it is a Chromium of its own.
 */
export async function launchViewerBrowser(): Promise<BrowserContext> {
  const endpoint = process.env.CASTPOOL_TEST_VIEWER_WS;
  const browser = endpoint
    ? await puppeteer.connect({ browserWSEndpoint: endpoint })
    : await launchOwnViewerBrowser();
  const context = await browser.createBrowserContext();
  const closeContext = context.close.bind(context);
  return Object.assign(context, {
    close: async () => {
      await closeContext().catch(() => {});
      if (endpoint) await browser.disconnect();
      else await browser.close();
    },
  });
}

export async function openViewPage(browser: Browser | BrowserContext, viewUrl: string): Promise<Page> {
  const page = await closingSurely(await browser.newPage());
  await page.goto(viewUrl);
  return page;
}

/**
 * The page, whose `close()` ends even when it races the page's own navigation: Chromium can then
 * acknowledge `Target.closeTarget` and keep the page, so puppeteer waits forever
 * (crbug.com/536385539). The view page reloads itself once its session is gone, which a test's
 * cleanup can meet; the close is asked again, from the browser, until the page goes.
 */
async function closingSurely(page: Page): Promise<Page> {
  const own = await page.createCDPSession();
  const { targetInfo } = await own.send('Target.getTargetInfo');
  await own.detach();
  const close = page.close.bind(page);
  return Object.assign(page, {
    close: async (options?: { runBeforeUnload?: boolean }) => {
      const closed = close(options).then(
        () => true,
        () => true,
      );
      const later = (ms: number) => new Promise<false>((resolve) => setTimeout(resolve, ms, false));
      for (let attempt = 0; attempt < 5 && !(await Promise.race([closed, later(1000)])); attempt++) {
        const browserSession = await page.browser().target().createCDPSession();
        await browserSession.send('Target.closeTarget', { targetId: targetInfo.targetId }).catch(() => {});
        await browserSession.detach().catch(() => {});
      }
    },
  });
}

export const viewerStats = (page: Page) =>
  page.evaluate(() => ({ ...(window as unknown as { castpoolViewer: ViewerStats }).castpoolViewer }));

/** What the view page's peer connection decoded until now (its own stats, not the once-a-second copy). */
export const decodedNow = (page: Page) =>
  page.evaluate(async () => {
    const pc = (window as unknown as { castpoolPc?: RTCPeerConnection }).castpoolPc;
    for (const report of (await pc?.getStats())?.values() ?? [])
      if (report.type === 'inbound-rtp' && report.kind === 'video')
        return { frames: (report.framesDecoded as number) ?? 0, width: (report.frameWidth as number) ?? 0 };
    return { frames: 0, width: 0 };
  });

export const framesDecodedNow = async (page: Page) => (await decodedNow(page)).frames;

/** Frames the view page decoded per second over the next `ms`. */
export async function decodedFps(page: Page, ms: number): Promise<number> {
  const before = (await viewerStats(page)).framesDecoded;
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (((await viewerStats(page)).framesDecoded - before) * 1000) / ms;
}

/** Polls until `check` passes or the deadline ends; returns the last value. */
export async function until<T>(
  read: () => Promise<T> | T,
  check: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

/**
 * A WHEP player that POSTs its offer before ICE gathering finishes, then trickles its candidates
 * with PATCH, as some standard players do. Runs in `page`; returns the viewer resource URL.
 */
export async function startTricklingPlayer(
  page: Page,
  whepUrl: string,
  options: { token?: string; onlyCodec?: string; withAudio?: boolean } = {},
): Promise<string> {
  return page.evaluate(
    async (url, bearer, onlyCodec, withAudio) => {
      const auth: Record<string, string> = bearer ? { Authorization: `Bearer ${bearer}` } : {};
      const pc = new RTCPeerConnection();
      // Most players ask for audio first, then video.
      if (withAudio) pc.addTransceiver('audio', { direction: 'recvonly' });
      const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
      if (onlyCodec) {
        const codecs = RTCRtpReceiver.getCapabilities('video')?.codecs ?? [];
        transceiver.setCodecPreferences(codecs.filter((c) => c.mimeType === onlyCodec));
      }
      const state = { framesDecoded: 0, codec: '', answer: '' };
      (window as unknown as { trickling: typeof state }).trickling = state;
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      document.body.append(video);
      pc.ontrack = (event) => {
        video.srcObject = new MediaStream([event.track]);
      };
      const pending: string[] = [];
      let resource = '';
      const patch = (lines: string[]) =>
        fetch(resource, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', ...auth },
          body: `a=ice-ufrag:${/a=ice-ufrag:(\S+)/.exec(pc.localDescription?.sdp ?? '')?.[1]}\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n${lines.map((l) => `a=${l}\r\n`).join('')}`,
        });
      pc.onicecandidate = (event) => {
        if (!event.candidate?.candidate) return;
        if (resource) void patch([event.candidate.candidate]);
        else pending.push(event.candidate.candidate);
      };
      await pc.setLocalDescription(await pc.createOffer());
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', ...auth },
        body: pc.localDescription?.sdp,
      });
      if (response.status !== 201) return `error ${response.status}: ${(await response.json()).message}`;
      resource = new URL(response.headers.get('Location') ?? '', location.href).href;
      state.answer = await response.text();
      await pc.setRemoteDescription({ type: 'answer', sdp: state.answer });
      if (pending.length > 0) await patch(pending);
      setInterval(async () => {
        const stats = await pc.getStats();
        for (const report of stats.values()) {
          if (report.type !== 'inbound-rtp' || report.kind !== 'video') continue;
          state.framesDecoded = report.framesDecoded ?? 0;
          state.codec = stats.get(report.codecId)?.mimeType ?? '';
        }
      }, 200);
      return resource;
    },
    whepUrl,
    options.token,
    options.onlyCodec,
    options.withAudio ?? false,
  );
}

/** The colour at the centre of the frame the view page shows now, as [r, g, b]. */
export const centrePixel = (page: Page) =>
  page.evaluate(() => {
    const video = document.querySelector('video') as HTMLVideoElement;
    const canvas = document.createElement('canvas');
    canvas.width = 1;
    canvas.height = 1;
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
    ctx.drawImage(video, video.videoWidth / 2, video.videoHeight / 2, 1, 1, 0, 0, 1, 1);
    return Array.from(ctx.getImageData(0, 0, 1, 1).data.slice(0, 3));
  });

/** The colour the viewer's decoded video shows at a point of the picture. */
export const videoColour = (viewer: Page, x: number, y: number) =>
  viewer.evaluate(
    (px, py) => {
      const video = document.querySelector('video') as HTMLVideoElement;
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext('2d') as CanvasRenderingContext2D;
      context.drawImage(video, 0, 0);
      const [r, g, b] = context.getImageData(
        Math.floor(px * canvas.width),
        Math.floor(py * canvas.height),
        1,
        1,
      ).data;
      return { r: r ?? 0, g: g ?? 0, b: b ?? 0 };
    },
    x,
    y,
  );

/** Viewer-page coordinates of a point of the picture (0–1), the video being letterboxed. */
export const onPicture = (viewer: Page, x: number, y: number) =>
  viewer.evaluate(
    (px, py) => {
      const video = document.querySelector('video') as HTMLVideoElement;
      const box = video.getBoundingClientRect();
      const scale = Math.min(box.width / video.videoWidth, box.height / video.videoHeight);
      const width = video.videoWidth * scale;
      const height = video.videoHeight * scale;
      return {
        x: box.left + (box.width - width) / 2 + px * width,
        y: box.top + (box.height - height) / 2 + py * height,
      };
    },
    x,
    y,
  );
