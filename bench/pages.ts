import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Bits of the time code, block geometry: shared by the page that draws and the viewer that reads. */
export const TIMECODE = { bits: 24, x0: 20, y0: 20, size: 40, step: 44 };
/** The same code in half-size blocks, for pages narrower than 1,120 px (`?timecode=small`). */
export const SMALL_TIMECODE = { bits: 24, x0: 10, y0: 10, size: 20, step: 22 };

/** In-page script: wall-clock ms (mod 2^24) as black/white blocks, plus an even-parity block. */
const DRAW_TIMECODE = `const T = new URLSearchParams(location.search).get('timecode') === 'small'
    ? ${JSON.stringify(SMALL_TIMECODE)} : ${JSON.stringify(TIMECODE)};
  function drawTimecode(g) {
    const now = Math.round(performance.timeOrigin + performance.now()) % (1 << T.bits);
    let parity = 0;
    g.fillStyle = '#808080'; g.fillRect(0, 0, T.x0 * 2 + T.step * (T.bits + 1), T.y0 * 2 + T.size);
    for (let i = 0; i <= T.bits; i++) {
      const bit = i < T.bits ? (now >> i) & 1 : parity;
      parity ^= bit;
      g.fillStyle = bit ? '#fff' : '#000';
      g.fillRect(T.x0 + i * T.step, T.y0, T.size, T.size);
    }
  }`;

const animated = `<!doctype html><html><head><title>animated</title><style>body{margin:0;overflow:hidden}</style></head><body>
<canvas id="c" width="1280" height="720"></canvas>
<script>
  // Full repaint every frame (moving gradient, 20 alpha circles, counter): the worst case for capture.
  // Drawn at the window's size (1280×720 in most variants), scaled to it.
  const c = document.getElementById('c'); const g = c.getContext('2d'); let n = 0;
  c.width = innerWidth || 1280; c.height = innerHeight || 720; const k = c.width / 1280;
  ${DRAW_TIMECODE}
  const timecode = new URLSearchParams(location.search).has('timecode');
  function draw(ts) {
    n++;
    const grad = g.createLinearGradient(0, 0, c.width, c.height);
    grad.addColorStop(0, 'hsl(' + (ts / 10 % 360) + ',80%,50%)');
    grad.addColorStop(1, 'hsl(' + ((ts / 10 + 180) % 360) + ',80%,50%)');
    g.fillStyle = grad; g.fillRect(0, 0, c.width, c.height);
    for (let i = 0; i < 20; i++) {
      g.fillStyle = 'hsla(' + (i * 18) + ',90%,60%,0.5)';
      g.beginPath(); g.arc(k * (640 + Math.cos(ts / 500 + i) * 400), k * (400 + Math.sin(ts / 700 + i) * 250), k * 40, 0, 7); g.fill();
    }
    g.fillStyle = '#fff'; g.font = (48 * k) + 'px sans-serif'; g.fillText('frame ' + n, 40 * k, 680 * k);
    if (timecode) drawTimecode(g);
    requestAnimationFrame(draw);
  }
  requestAnimationFrame(draw);
</script></body></html>`;

/** A typical page: an article with a 64×64 spinner (here the time code, which changes as often). */
const typical = `<!doctype html><html><head><title>typical</title><style>
  body{margin:0;font:18px/1.6 Georgia,serif;background:#fafafa;color:#222}
  article{max-width:760px;margin:110px auto 0;padding:0 20px}
  .spin{position:fixed;right:40px;top:40px;width:64px;height:64px;border:8px solid #ddd;border-top-color:#36c;
    border-radius:50%;animation:s 1s linear infinite}@keyframes s{to{transform:rotate(360deg)}}
  canvas{position:fixed;left:0;top:0}
</style></head><body><div class="spin"></div><canvas id="c" width="1200" height="80"></canvas><article>
<h2>Section</h2><p>${'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. '.repeat(6)}</p>
${'<p>Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore.</p>'.repeat(8)}
</article><script>
  const c = document.getElementById('c'); const g = c.getContext('2d');
  ${DRAW_TIMECODE}
  function draw() {
    if (new URLSearchParams(location.search).has('timecode')) drawTimecode(g);
    requestAnimationFrame(draw);
  }
  requestAnimationFrame(draw);
</script></body></html>`;

/** Nothing moves once loaded: a viewer's first picture depends on castpool asking for one. */
const still = `<!doctype html><html><head><title>still</title></head><body style="margin:0;background:#fafafa;font:24px sans-serif">
<h1 style="margin:120px">A page that does not change</h1></body></html>`;

/** Still, but turns white or black every FLIP_PERIOD_MS on the wall clock's multiples of it (nothing else moves). */
export const FLIP_PERIOD_MS = 2000;
const flips = `<!doctype html><html><head><title>flips</title></head><body style="margin:0;height:100vh;background:#000">
<script>
  function flip() {
    const now = Date.now();
    document.body.style.background = Math.floor(now / ${FLIP_PERIOD_MS}) % 2 ? '#fff' : '#000';
    setTimeout(flip, ${FLIP_PERIOD_MS} - (now % ${FLIP_PERIOD_MS}) + 1);
  }
  flip();
</script></body></html>`;

/**
 * A page stuck in busy loops on eight threads (workers): it takes every core it can get. Its main thread
 * stays free, so castpool's liveness probe keeps it (a hung main thread is restarted, then failed).
 */
const busy = `<!doctype html><html><head><title>busy</title></head><body><script>
const spin = URL.createObjectURL(new Blob(['for (;;) {}'], { type: 'text/javascript' }));
for (let i = 0; i < 8; i++) new Worker(spin);
</script></body></html>`;

export async function startBenchPages() {
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    const url = request.url ?? '';
    response.end(
      url.startsWith('/typical')
        ? typical
        : url.startsWith('/still')
          ? still
          : url.startsWith('/flips')
            ? flips
            : url.startsWith('/busy')
              ? busy
              : animated,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    animatedUrl: `http://127.0.0.1:${port}/animated`,
    timecodeUrl: `http://127.0.0.1:${port}/animated?timecode`,
    smallTimecodeUrl: `http://127.0.0.1:${port}/animated?timecode=small`,
    typicalUrl: `http://127.0.0.1:${port}/typical`,
    typicalTimecodeUrl: `http://127.0.0.1:${port}/typical?timecode`,
    stillUrl: `http://127.0.0.1:${port}/still`,
    flipsUrl: `http://127.0.0.1:${port}/flips`,
    busyUrl: `http://127.0.0.1:${port}/busy`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
