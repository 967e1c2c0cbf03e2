import type { SessionPage } from '../src/actors/page.js';
import { startBenchPages } from './pages.js';
import { log, sleep, startService, VIEWPORT } from './util.js';
import { watchWithWerift } from './whep-client.js';

const pages = await startBenchPages();
const capture = (process.env.CAPTURE ?? 'tab') as 'tab' | 'screencast';
const sessions = Number(process.env.SESSIONS ?? 16);
const service = await startService({ maxSessions: Math.max(16, sessions) });
const { castpool, commands, base } = service;
const viewers: Awaited<ReturnType<typeof watchWithWerift>>[] = [];
const ids: string[] = [];
for (let i = 0; i < sessions; i++) {
  const s = await commands.create({ url: pages.typicalUrl, fps: 30, viewport: VIEWPORT, capture });
  ids.push(s.id);
  viewers.push(await watchWithWerift(`${base}/api/sessions/${s.id}/whep`));
}
for (let t = 0; t < 4; t++) {
  await sleep(5000);
  const rows = ids.map((id, i) => {
    const view = commands.get(id);
    const entry = castpool.pool.getSnapshot().context.sessions[id];
    const page = entry?.ref.getSnapshot().context.page as SessionPage | undefined;
    return `${i}:${view.state.slice(0, 6)} d${view.deliveredFps} s${view.shareFps ?? '-'} v${viewers[i]?.counts.frames} out${page?.fanout.framesOut ?? '?'} w${page?.fanout.waitingViewers ?? '?'}`;
  });
  log(`t=${(t + 1) * 5}s cpu ${castpool.pool.getSnapshot().context.budget.cpu.toFixed(2)}: ${rows.join(' | ')}`);
}
for (const v of viewers) await v.close();
await service.app.close();
await pages.close();
