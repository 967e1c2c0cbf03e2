import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { CaptureStrategy } from '../../src/machines/types.js';
import { pidsInGroups } from '../../src/processes/tracker.js';
import { launchBenchBrowser, openWatching } from '../browser.js';
import { type BenchSection, n } from '../section.js';
import { log, SECONDS, sleep, startService, VIEWPORT, WARMUP_MS } from '../util.js';

/** What a process is, for the table: Chromium's `--type` (and utility sub-type), or its program. */
function processKind(pid: number): string {
  try {
    // Chromium rewrites its children's command lines into one space-separated title.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/).filter(Boolean);
    const program = readlinkSync(`/proc/${pid}/exe`).split('/').pop() ?? '?';
    const type = argv.find((a) => a.startsWith('--type='))?.slice(7);
    if (!/chrom/.test(program)) return program;
    if (!type) return 'chromium browser';
    if (type === 'utility') {
      const sub = argv.find((a) => a.startsWith('--utility-sub-type='))?.slice(19) ?? '';
      return `chromium utility ${sub.split('.').pop() ?? ''}`.trim();
    }
    if (type === 'renderer' && argv.includes('--extension-process'))
      return 'chromium renderer (capture extension)';
    return `chromium ${type}`;
  } catch {
    return 'gone';
  }
}

/** CPU ticks per (process kind, thread name) of the given processes now. */
function threadTicks(pids: number[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of pids) {
    const kind = processKind(pid);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '#');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const key = `${kind} | ${name}`;
        out.set(key, (out.get(key) ?? 0) + Number(fields[11]) + Number(fields[12]));
      } catch {
        // the thread ended
      }
    }
  }
  return out;
}

/** One watched typical session with a real Chromium viewer: CPU per process kind and thread. */
async function threadProfile(url: string, capture: CaptureStrategy) {
  const { app, castpool, commands, base } = await startService();
  const viewer = await launchBenchBrowser();
  try {
    const session = await commands.sessions.create({ url, fps: 30, viewport: VIEWPORT, capture });
    const page = await openWatching(viewer, `${base}/api/sessions/${session.id}/view`);
    await sleep(WARMUP_MS);
    const pids = () => [process.pid, ...pidsInGroups(castpool.processes.list().map((p) => p.pid))];
    const before = threadTicks(pids());
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const seconds = (performance.now() - t0) / 1000;
    const after = threadTicks(pids());
    const rows = [...after]
      .map(([key, ticks]) => ({ key, percent: (ticks - (before.get(key) ?? 0)) / seconds }))
      .filter((row) => row.percent >= 0.5)
      .sort((a, b) => b.percent - a.percent);
    const total = rows.reduce((sum, row) => sum + row.percent, 0);
    await page.close();
    return { capture, total, rows: rows.slice(0, 16) };
  } finally {
    await viewer.close();
    await app.close();
  }
}

type ThreadData = Awaited<ReturnType<typeof threadProfile>>[];

export const threadsSection: BenchSection<ThreadData> = {
  name: 'threads',
  async run(pages) {
    const data: ThreadData = [];
    for (const capture of ['tab', 'screencast'] as const) {
      log(`threads: one watched typical ${capture} session, per-thread CPU, ${SECONDS} s…`);
      data.push(await threadProfile(pages.typicalUrl, capture));
    }
    return data;
  },
  render(data, when) {
    const tables = data.map(
      (d) => `**${d.capture}** (castpool's processes together: ${n(d.total)} % of a core; threads ≥ 0.5 %)

| process | thread | % of a core |
|---|---|---|
${d.rows.map((r) => `| ${r.key.split(' | ')[0]} | ${r.key.split(' | ')[1]} | ${n(r.percent, 1)} |`).join('\n')}`,
    );
    return `## Where one watched session's CPU goes, thread by thread ${when}
One typical page at 30 FPS, 1280×720, one Chromium viewer (not counted: its own browser). From
\`/proc/<pid>/task/*/stat\` of castpool's Node and every process it started; thread numbers folded (#).

${tables.join('\n\n')}`;
  },
};
