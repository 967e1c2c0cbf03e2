import { readdirSync, readFileSync } from 'node:fs';
import type { BrowserContext } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { launchViewerBrowser, openViewPage, until, viewerStats } from '../helpers/viewer.js';

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let viewers: BrowserContext;

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool({
    sessionsPerBrowser: 1,
    supervision: { probeIntervalMs: 500, probeTimeoutMs: 2000 },
    // A load's excuse for a silent renderer lasts this long (the service's default is 30 s).
    navigationTimeoutMs: 3000,
  });
  viewers = await launchViewerBrowser();
});

afterAll(async () => {
  await viewers?.close();
  await castpool?.close();
  await pages?.close();
});

/** Renderer processes in a browser's process group (the browser was spawned as group leader). */
function renderersOf(browserPid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (pgid === browserPid && cmd.includes('--type=renderer')) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

const detail = async (id: string) => (await castpool.api('GET', `/api/sessions/${id}`)).json;

/** Stops every renderer of the session's browser; the returned function lets them go on. */
function stopRenderersOf(id: string): () => void {
  const hostId = castpool.castpool.pool.getSnapshot().context.sessions[id]?.hostId;
  const browser = castpool.castpool.processes.list().find((p) => p.kind === 'chromium' && p.owner === hostId);
  const renderers = renderersOf(browser?.pid ?? -1);
  expect(renderers.length).toBeGreaterThan(0);
  for (const pid of renderers) process.kill(pid, 'SIGSTOP');
  return () => {
    for (const pid of renderers) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
  };
}

/** Stops the session's renderers until castpool restarts the session for it (then lets them go on). */
async function expectRestartForHang(id: string, what: string): Promise<void> {
  const resume = stopRenderersOf(id);
  try {
    const stoppedAt = Date.now();
    const restarting = await until(
      () => detail(id),
      (s) => s.restarts === 1,
      30_000,
    );
    console.log(`chaos: ${what} detected after ${Date.now() - stoppedAt} ms`);
    expect(restarting.restarts).toBe(1);
    expect(restarting.failure).toMatch(/did not answer a probe/);
  } finally {
    resume();
  }
}

describe('chaos (short version; `npm run test:chaos` has more)', () => {
  it('restarts a session whose renderer hangs (SIGSTOP), within the probe deadline', async () => {
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/animated') });
    const id: string = created.json.id;
    // Loaded first: a page still loading is busy, not hung (its navigation deadline bounds that case).
    await until(
      () => detail(id),
      (s) => s.lastNavigation !== undefined,
      10_000,
    );
    await expectRestartForHang(id, 'hung renderer');
    const live = await until(
      () => detail(id),
      (s) => s.state === 'idle',
      15_000,
    );
    expect(live.state).toBe('idle');
    expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
  });

  it('restarts a session whose renderer hangs in the middle of a load, once the load is given up', async () => {
    // A document that never finishes: the page is drawn, and loading for good.
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/endless') });
    const id: string = created.json.id;
    await until(
      () => detail(id),
      (s) => s.tabs?.[0]?.title === 'endless',
      10_000,
    );
    await expectRestartForHang(id, 'renderer hung mid-load');
    expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
  });

  it('recovers from a killed encoder while a viewer watches (screencast)', async () => {
    const created = await castpool.api('POST', '/api/sessions', {
      url: pages.url('/animated'),
      capture: 'screencast',
      fps: 15,
    });
    const id: string = created.json.id;
    const view = await openViewPage(viewers, created.json.links.view);
    await until(
      () => viewerStats(view),
      (s) => s.framesDecoded > 15,
      10_000,
    );
    const ffmpeg = castpool.castpool.processes.list().find((p) => p.kind === 'ffmpeg' && p.owner === id);
    expect(ffmpeg).toBeDefined();
    process.kill(ffmpeg?.pid ?? 0, 'SIGKILL');
    const before = (await viewerStats(view)).framesDecoded;
    const after = await until(
      () => viewerStats(view),
      (s) => s.framesDecoded > before + 30,
      10_000,
    );
    expect(after.framesDecoded).toBeGreaterThan(before + 30);
    const replacement = castpool.castpool.processes.list().find((p) => p.kind === 'ffmpeg' && p.owner === id);
    expect(replacement?.pid).not.toBe(ffmpeg?.pid);
    expect(await detail(id)).toMatchObject({ state: 'streaming', encoders: 1 });
    await view.close();
    expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
  });
});
