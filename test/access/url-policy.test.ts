import { describe, expect, it } from 'vitest';
import { UrlPolicy, type UrlPolicyConfig } from '../../src/access/url-policy.js';

const base: UrlPolicyConfig = {
  allowedSchemes: ['http:', 'https:'],
  allowHosts: [],
  denyHosts: [],
  blockPrivateAddresses: false,
};
const dns: Record<string, string[]> = {
  'public.example': ['93.184.215.14'],
  'sneaky.example': ['93.184.215.14', '10.1.2.3'],
  'mapped.example': ['::ffff:127.0.0.1'],
  'v6.example': ['2606:4700::1111'],
};
const policy = (patch: Partial<UrlPolicyConfig>) =>
  new UrlPolicy({ ...base, ...patch }, async (host) => {
    const found = dns[host];
    if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return found;
  });
const refusal = (p: UrlPolicy, url: string) => p.refusal(new URL(url));

describe('URL policy', () => {
  it('refuses internal schemes by default', async () => {
    const p = policy({});
    for (const url of [
      'file:///etc/passwd',
      'chrome://settings',
      'devtools://devtools/bundled/inspector.html',
      'javascript:alert(1)',
      'data:text/html,<h1>x</h1>',
    ])
      expect(await refusal(p, url), url).toMatch(/scheme .* is not allowed/);
    expect(await refusal(p, 'https://public.example/')).toBeUndefined();
  });

  it('applies allow and deny host lists, deny winning, with *. suffixes', async () => {
    const p = policy({ allowHosts: ['*.example', 'other.org'], denyHosts: ['bad.example'] });
    expect(await refusal(p, 'https://public.example/')).toBeUndefined();
    expect(await refusal(p, 'https://a.b.example/')).toBeUndefined();
    expect(await refusal(p, 'https://OTHER.org./x')).toBeUndefined();
    expect(await refusal(p, 'https://bad.example/')).toMatch(/denied/);
    expect(await refusal(p, 'https://elsewhere.net/')).toMatch(/not in the allowed hosts/);
    expect(await refusal(p, 'https://notexample/')).toMatch(/not in the allowed hosts/);
  });

  it('refuses loopback, private and link-local addresses, however written or resolved', async () => {
    const p = policy({ blockPrivateAddresses: true });
    for (const url of [
      'http://127.0.0.1/',
      'http://127.1/',
      'http://2130706433/',
      'http://[::1]/',
      'http://10.0.0.8/',
      'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data',
      'http://0.0.0.0/',
      'http://[::ffff:7f00:1]/',
      'http://sneaky.example/',
      'http://mapped.example/',
    ])
      expect(await refusal(p, url), url).toMatch(/private or loopback/);
    expect(await refusal(p, 'http://public.example/')).toBeUndefined();
    expect(await refusal(p, 'http://v6.example/')).toBeUndefined();
    expect(await refusal(p, 'http://nowhere.invalid/')).toMatch(/does not resolve/);
    // Without the option, the same hosts are fine (tests and intranets use them).
    expect(await refusal(policy({}), 'http://127.0.0.1/')).toBeUndefined();
  });
});
