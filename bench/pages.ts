import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Bits of the time code, block geometry: shared by the page that draws and the viewer that reads. */
export const TIMECODE = { bits: 24, x0: 20, y0: 20, size: 40, step: 44 };

const animated = `<!doctype html><html><head><title>animated</title><style>body{margin:0;overflow:hidden}</style></head><body>
<canvas id="c" width="1280" height="720"></canvas>
<script>
  // Full repaint every frame (moving gradient, 20 alpha circles, counter): the worst case for capture.
  const c = document.getElementById('c'); const g = c.getContext('2d'); let n = 0;
  const T = ${JSON.stringify(TIMECODE)};
  const timecode = new URLSearchParams(location.search).has('timecode');
  function draw(ts) {
    n++;
    const grad = g.createLinearGradient(0, 0, c.width, c.height);
    grad.addColorStop(0, 'hsl(' + (ts / 10 % 360) + ',80%,50%)');
    grad.addColorStop(1, 'hsl(' + ((ts / 10 + 180) % 360) + ',80%,50%)');
    g.fillStyle = grad; g.fillRect(0, 0, c.width, c.height);
    for (let i = 0; i < 20; i++) {
      g.fillStyle = 'hsla(' + (i * 18) + ',90%,60%,0.5)';
      g.beginPath(); g.arc(640 + Math.cos(ts / 500 + i) * 400, 400 + Math.sin(ts / 700 + i) * 250, 40, 0, 7); g.fill();
    }
    g.fillStyle = '#fff'; g.font = '48px sans-serif'; g.fillText('frame ' + n, 40, 680);
    if (timecode) {
      // Wall-clock ms (mod 2^24) as black/white blocks, plus an even-parity block.
      const now = Math.round(performance.timeOrigin + performance.now()) % (1 << T.bits);
      let parity = 0;
      g.fillStyle = '#808080'; g.fillRect(0, 0, T.x0 * 2 + T.step * (T.bits + 1), T.y0 * 2 + T.size);
      for (let i = 0; i <= T.bits; i++) {
        const bit = i < T.bits ? (now >> i) & 1 : parity;
        parity ^= bit;
        g.fillStyle = bit ? '#fff' : '#000';
        g.fillRect(T.x0 + i * T.step, T.y0, T.size, T.size);
      }
    }
    requestAnimationFrame(draw);
  }
  requestAnimationFrame(draw);
</script></body></html>`;

export async function startBenchPages() {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(animated);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    animatedUrl: `http://127.0.0.1:${port}/animated`,
    timecodeUrl: `http://127.0.0.1:${port}/animated?timecode`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
