import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import WebSocket from 'ws';
import { CHROMIUM_FLAGS } from '../../src/actors/chromium.js';
import { type BenchSection, n } from '../section.js';
import { benchRoot, chromiumPath, log, percentile, startService } from '../util.js';

const ROUNDS = Number(process.env.BENCH_CDP_ROUNDS ?? 2000);

interface Face {
  p50: number;
  p99: number;
}
interface CdpData {
  rounds: number;
  direct: Face;
  castpool: Face;
  /** castpool's own CPU (ms) per 1,000 client messages (each a command and its answer) through the proxy. */
  cpuMsPer1000: number;
}

/** A raw CDP client on a socket: `Runtime.evaluate` of 1+1 on one page, answered one after another. */
async function roundTrips(endpoint: string, targetId: string | undefined, rounds: number) {
  const socket = new WebSocket(endpoint, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  let next = 1;
  const waiting = new Map<number, (message: { result?: Record<string, unknown> }) => void>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.id) waiting.get(message.id)?.(message);
  });
  const send = (method: string, params: object, sessionId?: string) =>
    new Promise<{ result?: Record<string, unknown> }>((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  const targets = await send('Target.getTargets', {});
  const infos = (targets.result?.targetInfos ?? []) as { targetId: string; type: string }[];
  const page = targetId ?? infos.find((t) => t.type === 'page')?.targetId;
  const attached = await send('Target.attachToTarget', { targetId: page, flatten: true });
  const sessionId = attached.result?.sessionId as string;
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await send('Runtime.evaluate', { expression: '1+1', returnByValue: true }, sessionId);
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  socket.close();
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), cpuMs: (cpu.user + cpu.system) / 1000 };
}

/**
 * Issue 18's benchmark: the round trip of a CDP command through castpool's session endpoint and
 * through Chromium's own socket, side by side in one run, and the CPU castpool adds per message.
 */
export const cdpSection: BenchSection<CdpData> = {
  name: 'cdp',
  async run(pages) {
    log(`cdp: ${ROUNDS} Runtime.evaluate round trips, through castpool and straight to Chromium…`);
    const direct = await puppeteer.launch({
      executablePath: chromiumPath(),
      args: [...CHROMIUM_FLAGS, '--no-sandbox'],
      userDataDir: mkdtempSync(join(benchRoot(), 'cdp-direct-')),
      pipe: false,
    });
    const { app, commands, base } = await startService();
    try {
      const page = await direct.newPage();
      await page.goto(pages.typicalUrl);
      const created = await commands.sessions.create({ url: pages.typicalUrl });
      const endpoint = `${base.replace('http', 'ws')}/api/sessions/${created.id}/cdp`;
      // Warm both paths, then measure them interleaved in halves (a slow moment hits both).
      await roundTrips(direct.wsEndpoint(), undefined, 100);
      await roundTrips(endpoint, undefined, 100);
      const halves = { direct: [] as Face[], castpool: [] as Face[] };
      let proxyCpu = 0;
      for (let half = 0; half < 2; half++) {
        halves.direct.push(await roundTrips(direct.wsEndpoint(), undefined, ROUNDS / 2));
        // The client runs in this process too: its own share is measured on the direct path.
        const through = await roundTrips(endpoint, undefined, ROUNDS / 2);
        halves.castpool.push(through);
        proxyCpu += through.cpuMs;
      }
      const directCpu = await roundTrips(direct.wsEndpoint(), undefined, ROUNDS);
      const mean = (faces: Face[]) => ({
        p50: faces.reduce((s, f) => s + f.p50, 0) / faces.length,
        p99: Math.max(...faces.map((f) => f.p99)),
      });
      return {
        rounds: ROUNDS,
        direct: mean(halves.direct),
        castpool: mean(halves.castpool),
        // This process holds both the client and castpool: castpool's share is what the proxied path
        // costs beyond the direct one (the client's own work is the same on both).
        cpuMsPer1000: ((proxyCpu - directCpu.cpuMs) / ROUNDS) * 1000,
      };
    } finally {
      await app.close();
      await direct.close();
    }
  },
  render(d, when) {
    return `## CDP through a session's endpoint ${when}
\`Runtime.evaluate\` of \`1+1\` on one page, ${d.rounds} sequential round trips per path, interleaved in
halves: a raw WebSocket client straight to a Chromium's own DevTools socket, and the same through
castpool's \`/api/sessions/:id/cdp\` (the virtual browser, the command policy, a CDP session of the
client's own over castpool's pipe to its Chromium). Client and castpool share one process here; castpool's CPU is
what the proxied path costs beyond the direct one.

| path | p50 | p99 |
|---|---|---|
| Chromium's own socket | ${n(d.direct.p50, 2)} ms | ${n(d.direct.p99, 2)} ms |
| castpool's session endpoint | ${n(d.castpool.p50, 2)} ms | ${n(d.castpool.p99, 2)} ms |

castpool adds ${n(d.castpool.p50 - d.direct.p50, 2)} ms at p50 (×${n(d.castpool.p50 / d.direct.p50, 2)}) and
${n(d.cpuMsPer1000)} ms of CPU per 1,000 messages.`;
  },
};
