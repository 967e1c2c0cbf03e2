import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startupChecks } from '../../src/access/startup-checks.js';
import { TokenBook } from '../../src/access/tokens.js';
import { InputBudget } from '../../src/actors/input-budget.js';
import { loadConfig } from '../../src/config.js';
import { startCastpool, withApiTokens } from '../helpers/app.js';

// The smaller leaks and the defaults a deployment regrets, each closed.
const TOKEN = 'small-doors-token-0123456789abcdef';
const lines: string[] = [];
let castpool: Awaited<ReturnType<typeof startCastpool>>;

beforeAll(async () => {
  castpool = await startCastpool(
    { ...withApiTokens({ name: 'ops', token: TOKEN }), logLevel: 'info' },
    {
      write: (line) => lines.push(line),
    },
  );
});
afterAll(async () => {
  await castpool?.close();
});

const as = { authorization: `Bearer ${TOKEN}` };

describe('links and logs', () => {
  it('a forged Host header never reaches links, WHEP Location or a minted viewUrl', async () => {
    const { app } = castpool;
    const created = await app.inject({
      method: 'POST',
      url: '/api/sessions',
      headers: { ...as, host: 'evil.example', 'content-type': 'application/json' },
      payload: JSON.stringify({ url: 'http://example.invalid/' }),
    });
    expect(created.statusCode).toBe(201);
    expect(created.body).not.toContain('evil.example');
    expect(created.json().links.self).toBe(`${castpool.base}/api/sessions/${created.json().id}`);
    const minted = await app.inject({
      method: 'POST',
      url: `/api/sessions/${created.json().id}/viewer-tokens`,
      headers: { ...as, host: 'evil.example', 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(minted.json().viewUrl.startsWith(`${castpool.base}/`)).toBe(true);
    const listed = await app.inject({
      method: 'GET',
      url: '/api/sessions',
      headers: { ...as, host: 'evil.example' },
    });
    expect(listed.body).not.toContain('evil.example');
    await app.inject({ method: 'DELETE', url: `/api/sessions/${created.json().id}`, headers: as });
    // A trusted host (loopback names) is echoed; anything else gets the listen address.
    const { linkBase } = await import('../../src/api/links.js');
    const base = linkBase({
      publicUrl: '',
      trustedHosts: ['localhost', '127.0.0.1'],
      selfUrl: () => 'http://127.0.0.1:8000',
    });
    const request = (host: string) => ({ hostname: host.split(':')[0], host, protocol: 'http' }) as never;
    expect(base(request('localhost:8000'))).toBe('http://localhost:8000');
    expect(base(request('evil.example'))).toBe('http://127.0.0.1:8000');
    expect(
      linkBase({ publicUrl: 'https://cast.example/', trustedHosts: [], selfUrl: () => '' })(request('x')),
    ).toBe('https://cast.example');
  });

  it('a token in the query is never written to the log', async () => {
    await castpool.api('GET', '/api/sessions/abc/view?token=leaky-token-value&fit');
    await castpool.api('GET', `/api/sessions?access_token=${TOKEN}`);
    const all = lines.join('\n');
    expect(all).toContain('/api/sessions/abc/view?token=[redacted]&fit');
    expect(all).not.toContain('leaky-token-value');
    expect(all).not.toContain(TOKEN);
  });
});

describe('viewer tokens', () => {
  it('accept only the canonical spelling of their signature', () => {
    const book = new TokenBook([], 'secret-0123456789');
    const token = book.mintViewerToken('s1', 'view', Date.now() + 60_000);
    expect(book.verifyViewerToken(token).sessionId).toBe('s1');
    const [payload, signature] = token.split('.') as [string, string];
    // The same bytes, spelled otherwise: padding, standard base64, a flipped unused bit.
    const padded = `${payload}.${signature}=`;
    const standard = `${payload}.${Buffer.from(signature, 'base64url').toString('base64')}`;
    const last = signature.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string;
    const bits = `${payload}.${signature.slice(0, -1)}${sibling}`;
    for (const variant of [padded, standard, bits])
      if (variant !== token)
        expect(() => book.verifyViewerToken(variant), variant).toThrow(/neither|signature/);
  });
});

describe('input budget', () => {
  it('takes a 2 s burst, then the rate; text by bytes', () => {
    let now = 0;
    const budget = new InputBudget(10, 100, () => now);
    let taken = 0;
    for (let i = 0; i < 100; i++) if (budget.take()) taken++;
    expect(taken).toBe(20);
    now += 1000;
    taken = 0;
    for (let i = 0; i < 100; i++) if (budget.take()) taken++;
    expect(taken).toBe(10);
    now += 10_000;
    expect(budget.take(150)).toBe(true);
    expect(budget.take(100)).toBe(false); // 200 bytes of burst: 50 left
  });
});

const allowedRemote = (base: ReturnType<typeof loadConfig>) => ({
  host: '0.0.0.0',
  auth: { ...base.auth, allowAnonymousRemote: true },
});

describe('start-up defaults', () => {
  it('refuses a remote bind without tokens unless allowed, and says what it risks', () => {
    const base = loadConfig({}, {});
    expect(base.urlPolicy.blockPrivateAddresses).toBe(true);
    // Without a key the fleet shares, saved contexts (logins) stay on this node's disk: said, or refused.
    expect(startupChecks(base)).toEqual({
      warnings: [expect.stringMatching(/saved contexts are kept on this node's disk only \(.+\/contexts\)/)],
    });
    expect(startupChecks({ ...base, contexts: { withoutKey: 'refuse' } }).refusal).toMatch(
      /saved contexts \(logins\) need a key: set fleet.secret/,
    );
    const keyed = {
      ...base,
      fleet: { secret: 'a-fleet-secret-0123456789' },
      contexts: { withoutKey: 'refuse' as const },
    };
    expect(startupChecks(keyed)).toEqual({ warnings: [] });
    expect(startupChecks({ ...base, host: '0.0.0.0' }).refusal).toMatch(/without API tokens/);
    const allowed = startupChecks({
      ...base,
      host: '0.0.0.0',
      auth: { ...base.auth, allowAnonymousRemote: true },
    });
    expect(allowed.refusal).toBeUndefined();
    expect(allowed.warnings.join()).toMatch(/WITHOUT API tokens/);
    expect(
      startupChecks({ ...base, host: '0.0.0.0', auth: { ...base.auth, allowAnonymousRemote: true } })
        .warnings,
    ).toHaveLength(3);
    // On every address, the other nodes of a fleet need to be told where it is (CDP relays).
    expect(allowed.warnings.join()).toMatch(/without advertiseUrl \(CASTPOOL_ADVERTISE_URL\)/);
    const advertised = startupChecks({ ...base, ...allowedRemote(base), advertiseUrl: 'http://node-a:8000' });
    expect(advertised.warnings.join()).not.toMatch(/advertiseUrl/);
    const alone = startupChecks({ ...base, ...allowedRemote(base), nats: { ...base.nats, enabled: false } });
    expect(alone.warnings.join()).not.toMatch(/advertiseUrl/);
    const withTokens = {
      ...base,
      host: '0.0.0.0',
      auth: { ...base.auth, tokens: [{ name: 'a', token: TOKEN }] },
    };
    expect(startupChecks(withTokens).refusal).toBeUndefined();
    const intranet = { ...base, urlPolicy: { ...base.urlPolicy, blockPrivateAddresses: false } };
    expect(startupChecks(intranet).warnings.join()).toMatch(/blockPrivateAddresses is off/);
  });

  it('refuses media ports that are no range and TURN servers without the secret to mint credentials', () => {
    const base = loadConfig({ fleet: { secret: 'a-fleet-secret-0123456789' } }, {});
    const media = (webrtc: Partial<typeof base.webrtc>) =>
      startupChecks({ ...base, webrtc: { ...base.webrtc, ...webrtc } });
    expect(media({})).toEqual({ warnings: [] });
    expect(media({ udpPortMin: 40000, udpPortMax: 40000 }).refusal).toMatch(/is not a port range/);
    expect(media({ udpPortMin: 40000, udpPortMax: 0 }).refusal).toMatch(/is not a port range/);
    expect(media({ udpPortMin: 80, udpPortMax: 200 }).refusal).toMatch(/1024 ≤ min < max/);
    expect(media({ udpPortMin: 40000, udpPortMax: 40999 })).toEqual({ warnings: [] });
    expect(media({ udpPortMin: 40000, udpPortMax: 40009 }).warnings.join()).toMatch(
      /holds 10 ports, fewer than limits.viewersPerNode \(128\)/,
    );
    const turn = { urls: ['turn:turn.example:3478'], secret: '', ttlSeconds: 3600 };
    expect(media({ turn }).refusal).toMatch(/without webrtc.turn.secret \(CASTPOOL_TURN_SECRET\)/);
    expect(media({ turn: { ...turn, secret: 's3cret' } })).toEqual({ warnings: [] });
    expect(media({ turn: { ...turn, urls: [], secret: 's3cret' } }).warnings.join()).toMatch(
      /viewers get no TURN server/,
    );
  });
});
