import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { LOOPBACK_PAGES } from './app.js';
import { TEST_ROOT } from './test-root.js';

type Overrides = Parameters<typeof loadConfig>[0];

/**
 * castpool without NATS and without a listening socket, for what needs neither Chromium nor a
 * fleet (validation, auth, error shapes): requests go through `app.inject`. No browser starts
 * unless a test creates a session.
 */
export async function injectCastpool(overrides: Overrides = {}) {
  const dataDir = mkdtempSync(join(TEST_ROOT, 'data-'));
  const config: Config = loadConfig(
    { logLevel: 'warn', dataDir, urlPolicy: LOOPBACK_PAGES, ...overrides, nats: { enabled: false } },
    {},
  );
  const built = await buildApp(config);
  await built.app.ready();
  const api = async (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'OPTIONS',
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const raw = typeof body === 'string';
    const response = await built.app.inject({
      method,
      url,
      headers: body === undefined || raw ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { payload: raw ? body : JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions
    let json: any;
    try {
      json = response.body ? JSON.parse(response.body) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.statusCode, headers: response.headers, json, text: response.body };
  };
  return { ...built, api, close: () => built.app.close() };
}
