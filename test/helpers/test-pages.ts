import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const animated = `<!doctype html><html><head><title>animated</title><style>body{margin:0}</style></head><body>
<canvas id="c" width="640" height="360"></canvas>
<script>
  // Full repaint every frame: the worst case for capture.
  const c = document.getElementById('c'); const g = c.getContext('2d'); let n = 0;
  function draw(t) {
    n++;
    const grad = g.createLinearGradient(0, 0, c.width, c.height);
    grad.addColorStop(0, 'hsl(' + (t / 10 % 360) + ',80%,50%)');
    grad.addColorStop(1, 'hsl(' + ((t / 10 + 180) % 360) + ',80%,50%)');
    g.fillStyle = grad; g.fillRect(0, 0, c.width, c.height);
    g.fillStyle = '#fff'; g.font = '48px sans-serif'; g.fillText('frame ' + n, 40, 80);
    requestAnimationFrame(draw);
  }
  requestAnimationFrame(draw);
</script></body></html>`;

const staticPage = (label: string) => `<!doctype html><html><head><title>${label}</title></head>
<body style="background:#fff"><h1 id="label">${label}</h1><a id="next" href="/animated">animated</a></body></html>`;

/** Red, then once (after 1.2 s) blue for good: the final state must reach the viewer. */
const rarelyChanging = `<!doctype html><html><head><title>rare</title></head>
<body style="margin:0;height:100vh;background:#ff0000">
<script>setTimeout(() => { document.body.style.background = '#0000ff'; }, 1200);</script></body></html>`;

/** Follows its own link after 0.5 s, as a user's click would: to /redirect (302 → /relocate). */
const followsLink = `<!doctype html><html><head><title>follows a link</title></head><body>
<a id="next" href="/redirect">next</a><script>setTimeout(() => document.getElementById('next').click(), 500);</script>
</body></html>`;

/** Counts its visits in localStorage and a cookie, and is tall enough to scroll. */
const stateful = `<!doctype html><html><head><title>stateful</title></head><body style="height:5000px">
<script>
  localStorage.visits = String(Number(localStorage.visits || 0) + 1);
  sessionStorage.tab = sessionStorage.tab || 'kept';
  if (!document.cookie.includes('who=')) document.cookie = 'who=castpool; max-age=3600';
</script></body></html>`;

/** Moves itself on with a script: location.href = '/animated'. */
const relocates = `<!doctype html><html><head><title>relocates</title></head><body>
<script>setTimeout(() => { location.href = '/animated'; }, 300);</script></body></html>`;

/** Green with a button (turns the page red) and a text input: what a remote viewer drives. */
const control = `<!doctype html><html><head><title>control</title></head>
<body style="margin:0;height:100vh;background:#00ff00">
<button id="button" style="position:absolute;left:0;top:0;width:50%;height:50%;font-size:40px">press</button>
<input id="input" style="position:absolute;left:55%;top:55%;width:40%;height:20%;font-size:40px">
<script>
  window.clicks = 0;
  document.getElementById('button').onclick = () => { window.clicks++; document.body.style.background = '#ff0000'; };
</script></body></html>`;

/**
 * Beeps: a 440 Hz tone for 200 ms every 500 ms (?period=<ms>), the page white while it sounds and black otherwise
 * (one picture change and one sound onset at the same instant: what audio/video sync is measured by).
 * A small square spins in a corner so that frames flow all the time: with only the two changes a
 * second, Chromium's player dropped 5–12 of 36 decoded frames in some runs (every flash, in some),
 * which measures its renderer on a sparse stream rather than sync.
 * window.beeps counts them; window.audioState is the page's AudioContext state.
 */
const tone = `<!doctype html><html><head><title>tone</title>
<style>@keyframes spin{to{transform:rotate(1turn)}}
#spinner{position:fixed;left:8px;top:8px;width:32px;height:32px;background:#f00;animation:spin 1s linear infinite}</style></head>
<body style="margin:0;height:100vh;background:#000"><div id="spinner"></div>
<script>
  const audio = new AudioContext();
  const gain = audio.createGain();
  gain.gain.value = 0;
  const oscillator = audio.createOscillator();
  oscillator.frequency.value = 440;
  oscillator.connect(gain).connect(audio.destination);
  oscillator.start();
  window.beeps = 0;
  const period = Number(new URLSearchParams(location.search).get('period')) || 500;
  setInterval(() => {
    window.audioState = audio.state;
    if (audio.state !== 'running') audio.resume();
    window.beeps++;
    gain.gain.setValueAtTime(0.5, audio.currentTime);
    gain.gain.setValueAtTime(0, audio.currentTime + 0.2);
    document.body.style.background = '#fff';
    setTimeout(() => { document.body.style.background = '#000'; }, 200);
  }, period);
</script></body></html>`;

/**
 * Plays a looping 440 Hz tone from an <audio> element (a WAV made in the page), as real pages play
 * sound: it starts on the first click (Chromium's autoplay policy); window.playing says whether it plays.
 */
const mediaSound = `<!doctype html><html><head><title>media sound</title></head>
<body style="margin:0;height:100vh;background:#345"><audio id="a" loop></audio><script>
  const rate = 48000, samples = rate;
  const wav = new DataView(new ArrayBuffer(44 + samples * 2));
  const text = (at, s) => [...s].forEach((c, i) => wav.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF'); wav.setUint32(4, 36 + samples * 2, true); text(8, 'WAVEfmt ');
  wav.setUint32(16, 16, true); wav.setUint16(20, 1, true); wav.setUint16(22, 1, true);
  wav.setUint32(24, rate, true); wav.setUint32(28, rate * 2, true); wav.setUint16(32, 2, true);
  wav.setUint16(34, 16, true); text(36, 'data'); wav.setUint32(40, samples * 2, true);
  for (let i = 0; i < samples; i++) wav.setInt16(44 + i * 2, Math.sin(2 * Math.PI * 440 * i / rate) * 16000, true);
  const audio = document.getElementById('a');
  audio.src = URL.createObjectURL(new Blob([wav.buffer], { type: 'audio/wav' }));
  window.playing = false;
  audio.onplaying = () => { window.playing = true; };
  document.addEventListener('click', () => audio.play());
</script></body></html>`;

/** A page of one colour, all over: what a viewer sees tells which page (or outcome) is shown. */
export const paint = (hex: string, title = `paint ${hex}`) =>
  `<!doctype html><html><head><title>${title}</title></head><body style="margin:0;height:100vh;background:#${hex}"></body></html>`;

/**
 * Pages that open a JavaScript dialog once loaded and paint the outcome: confirm (OK green, Cancel
 * red), prompt (null red, its default "castpool" blue, anything else green), alert (blue once it
 * closed); leave (white, asks before unload).
 */
const dialogPages: Record<string, string> = {
  confirm: `<body style="margin:0;height:100vh;background:#fff"><script>
    setTimeout(() => { document.body.style.background = confirm('Proceed?') ? '#00ff00' : '#ff0000'; }, 100);
  </script></body>`,
  prompt: `<body style="margin:0;height:100vh;background:#fff"><script>
    setTimeout(() => { const a = prompt('Your name?', 'castpool');
      document.body.style.background = a === null ? '#ff0000' : a === 'castpool' ? '#0000ff' : '#00ff00'; }, 100);
  </script></body>`,
  alert: `<body style="margin:0;height:100vh;background:#fff"><script>
    setTimeout(() => { alert('Hello from the page'); document.body.style.background = '#0000ff'; }, 100);
  </script></body>`,
  /** Asks where it is and whether it may notify: `window.outcome` says, green when both are granted. */
  permissions: `<body style="margin:0;height:100vh;background:#fff"><script>
    navigator.geolocation.getCurrentPosition(
      (p) => { window.outcome = { latitude: p.coords.latitude, notifications: Notification.permission };
        document.body.style.background = Notification.permission === 'granted' ? '#00ff00' : '#ff0000'; },
      (e) => { window.outcome = { error: e.code, notifications: Notification.permission };
        document.body.style.background = '#ff0000'; },
      { timeout: 5000 });
  </script></body>`,
  /** A menu (top 30 %) and a colour picker (bottom 25 %): the page paints what is chosen in either. */
  widgets: `<body style="margin:0;height:100vh;background:#fff">
    <select id="s" style="position:absolute;left:0;top:0;width:100%;height:30%;font-size:32px">
      <option value="ffffff">white</option>
      <optgroup label="colours"><option value="00ff00">green</option><option value="0000ff">blue</option>
      <option value="ff0000" disabled>red</option></optgroup>
    </select>
    <input type="color" id="c" value="#ffffff" style="position:absolute;left:0;bottom:0;width:100%;height:25%">
    <script>
      window.changes = 0;
      s.addEventListener('change', () => { window.changes++; document.body.style.background = '#' + s.value; });
      c.addEventListener('input', () => { document.body.style.background = c.value; });
    </script></body>`,
  /** A file input: what it is given is read back into `window.uploaded`. */
  upload: `<body style="margin:0;height:100vh;background:#fff"><input type="file" id="f" multiple
    style="position:absolute;left:0;top:0;width:40%;height:40%"><script>
    document.getElementById('f').addEventListener('change', async (event) => {
      window.uploaded = await Promise.all([...event.target.files].map(async (f) => ({ name: f.name, text: await f.text() })));
      document.body.style.background = '#00ff00';
    });
  </script></body>`,
  leave: `<body style="margin:0;height:100vh;background:#fff"><script>
    addEventListener('beforeunload', (event) => { event.preventDefault(); event.returnValue = ''; });
  </script></body>`,
};

/** A local server for the pages sessions open: /animated, /static, /other, /rare, /control, /tone (beeps), /media-sound,
 * /paint/<rrggbb>[?forbid-capture], /dialog/{confirm,prompt,alert,leave,permissions,upload,widgets}, /hang (never answers),
 * /endless (a document that never finishes loading),
 * /opens?url=[&count=n] (window.open, n times), /blank-link?url= (a target=_blank click), /signed-in (HTTP Basic),
 * /file/<bytes> (an attachment), /downloads?size=<bytes>&size=… (clicks a download link per size),
 * /redirect-to?url=, /log-in?sid=&user= (a cookie and localStorage), /whoami (shows both), and the
 * chain /follow-link → (click) /redirect → (302) /relocate → (location.href) /animated. */
export async function startTestPages(): Promise<{
  port: number;
  url: (path: string) => string;
  close: () => Promise<void>;
}> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const routes: Record<string, string> = {
      '/animated': animated,
      '/other': staticPage('other page'),
      '/rare': rarelyChanging,
      '/follow-link': followsLink,
      '/relocate': relocates,
      '/stateful': stateful,
      '/control': control,
      '/tone': tone,
      '/media-sound': mediaSound,
    };
    if (path === '/redirect-to') {
      // An open redirect, as real sites have: to wherever ?url= says.
      const target = new URL(request.url ?? '/', 'http://x').searchParams.get('url') ?? '/';
      response.writeHead(302, { location: target });
      response.end();
      return;
    }
    const painted = /^\/paint\/([0-9a-f]{6})$/.exec(path ?? '');
    if (painted?.[1]) {
      // ?forbid-capture: the header large sites send, which forbids the page's own display capture.
      const forbid = (request.url ?? '').includes('forbid-capture');
      response.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        ...(forbid ? { 'permissions-policy': 'display-capture=()' } : {}),
      });
      response.end(paint(painted[1]));
      return;
    }
    if (path === '/hang') return; // a server that takes the request and never answers
    if (path === '/endless') {
      // A document that starts and never ends: the page is drawn and still loading.
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.write(`<!doctype html><title>endless</title><h1>loading forever</h1>${' '.repeat(2048)}`);
      return;
    }
    if (path === '/log-in') {
      // A site's login: ?sid= becomes an HttpOnly session cookie, ?user= goes to localStorage.
      const query = new URL(request.url ?? '/', 'http://x').searchParams;
      response.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'set-cookie': `sid=${query.get('sid') ?? ''}; Path=/; HttpOnly; Max-Age=3600`,
      });
      response.end(
        `<!doctype html><title>logging in</title><script>localStorage.setItem('user', ${JSON.stringify(query.get('user') ?? '')}); document.title = 'logged in';</script>`,
      );
      return;
    }
    if (path === '/whoami') {
      // Who the site sees: its session cookie (server side) and its localStorage (page side).
      const sid = /(?:^|;\s*)sid=([^;]*)/.exec(request.headers.cookie ?? '')?.[1] ?? '';
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(
        `<!doctype html><title>whoami</title><script>document.title = ${JSON.stringify(`sid=${sid}`)} + ' user=' + (localStorage.getItem('user') ?? '');</script>`,
      );
      return;
    }
    if (path === '/signed-in') {
      // HTTP Basic sign-in: user castpool, password s3cret-Pa55.
      const expected = `Basic ${Buffer.from('castpool:s3cret-Pa55').toString('base64')}`;
      if (request.headers.authorization !== expected) {
        response.writeHead(401, {
          'www-authenticate': 'Basic realm="castpool tests"',
          'content-type': 'text/html',
        });
        response.end(paint('ff0000', 'refused'));
        return;
      }
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(paint('00ff00', 'signed in'));
      return;
    }
    if (path === '/opens' || path === '/blank-link') {
      // Opens ?url= in a new window (?count= times): with window.open, or by clicking a target=_blank link.
      const query = new URL(request.url ?? '/', 'http://x').searchParams;
      const target = JSON.stringify(query.get('url') ?? '/');
      const count = Math.min(Number(query.get('count') ?? 1) || 1, 50);
      const opener =
        path === '/opens'
          ? `setTimeout(() => { for (let i = 0; i < ${count}; i++) window.open(${target}); }, 200)`
          : `const a = document.createElement('a'); a.target = '_blank'; a.href = ${target}; document.body.append(a); setTimeout(() => a.click(), 200)`;
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(
        `<!doctype html><title>opener</title><body style="margin:0;height:100vh;background:#fff"><script>${opener}</script></body>`,
      );
      return;
    }
    const file = /^\/file\/(\d+)$/.exec(path ?? '')?.[1];
    if (file) {
      // An attachment of the asked size (bytes), named as a site would name it.
      const size = Math.min(Number(file), 64 * 1024 * 1024);
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-disposition': `attachment; filename="report ${size}.bin"`,
        'content-length': String(size),
      });
      response.end(Buffer.alloc(size, 'castpool '));
      return;
    }
    const fetches = /^\/downloads$/.test(path ?? '')
      ? new URL(request.url ?? '/', 'http://x').searchParams.getAll('size')
      : undefined;
    if (fetches) {
      // Follows a download link per ?size= as a user's click would (one after another).
      const links = fetches
        .map((size, i) => `<a id="l${i}" href="/file/${Number(size)}" download>file</a>`)
        .join('');
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(
        `<!doctype html><title>downloads</title><body>${links}<script>[...document.links].forEach((a, i) => setTimeout(() => a.click(), 300 * i));</script></body>`,
      );
      return;
    }
    const dialog = /^\/dialog\/(\w+)$/.exec(path ?? '')?.[1];
    if (dialog && Object.hasOwn(dialogPages, dialog)) {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(`<!doctype html><html><head><title>${dialog}</title></head>${dialogPages[dialog]}</html>`);
      return;
    }
    if (path === '/redirect') {
      response.writeHead(302, { location: '/relocate' });
      response.end();
      return;
    }
    const body = routes[path ?? ''] ?? staticPage('static page');
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
