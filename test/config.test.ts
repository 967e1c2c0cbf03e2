import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envBindings, loadConfig } from '../src/config.js';

/** A value of the binding's type that differs from the default, and what loading it should give. */
function sample(type: unknown, name: string): { raw: string; expected: unknown } {
  if (type === 'integer' || type === 'number') return { raw: '7', expected: 7 };
  if (type === 'boolean') return { raw: '1', expected: true };
  if (name === 'CASTPOOL_TURN_URLS')
    return {
      raw: 'turn:turn.example:3478, turns:turn.example:5349',
      expected: ['turn:turn.example:3478', 'turns:turn.example:5349'],
    };
  if (type === 'array')
    return { raw: 'ci=ci-token-1234567890', expected: [{ name: 'ci', token: 'ci-token-1234567890' }] };
  if (name === 'LOG_LEVEL') return { raw: 'debug', expected: 'debug' };
  if (name === 'NATS_URL') return { raw: 'nats://127.0.0.1:4999', expected: 'nats://127.0.0.1:4999' };
  if (name === 'HOST') return { raw: '127.0.0.2', expected: '127.0.0.2' };
  if (name === 'CASTPOOL_GPU') return { raw: 'require', expected: 'require' };
  if (name === 'CASTPOOL_ADVERTISE_URL') return { raw: 'http://node-a:8000', expected: 'http://node-a:8000' };
  return {
    raw: `value-of-${name.toLowerCase()}-0123456789abcdef`,
    expected: `value-of-${name.toLowerCase()}-0123456789abcdef`,
  };
}

const at = (config: unknown, path: string[]) =>
  path.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('config from the environment', () => {
  const bindings = envBindings();

  it('derives every documented variable from the schema, CASTPOOL_DATA_DIR included', () => {
    expect(bindings.map((b) => b.name).sort()).toEqual(
      [
        'CASTPOOL_ADVERTISE_URL',
        'CASTPOOL_ALLOW_ANONYMOUS_REMOTE',
        'CASTPOOL_API_TOKEN',
        'CASTPOOL_API_TOKENS',
        'CASTPOOL_DATA_DIR',
        'CASTPOOL_FLEET_SECRET',
        'CASTPOOL_GPU',
        'CASTPOOL_INSPECT',
        'CASTPOOL_MAX_SESSIONS',
        'CASTPOOL_NODE_ID',
        'CASTPOOL_TURN_SECRET',
        'CASTPOOL_TURN_URLS',
        'CASTPOOL_VIEWER_TOKEN_SECRET',
        'CHROMIUM_PATH',
        'HOST',
        'LOG_LEVEL',
        'NATS_CREDS',
        'NATS_PASS',
        'NATS_TOKEN',
        'NATS_URL',
        'NATS_USER',
        'PORT',
      ].sort(),
    );
    expect(bindings.find((b) => b.name === 'CASTPOOL_DATA_DIR')?.path).toEqual(['dataDir']);
  });

  it.each(envBindings().map((b) => [b.name, b] as const))('%s sets its key', (name, binding) => {
    const { raw, expected } = sample(binding.schema.type, name);
    const before = at(loadConfig({}, {}), binding.path);
    expect(before).not.toEqual(expected);
    const config = loadConfig({}, { [name]: raw });
    expect(at(config, binding.path)).toEqual(expected);
  });

  it('reads no variable the schema does not document (but CASTPOOL_CONFIG, the file)', () => {
    const read = new Set<string>();
    for (const file of sourceFiles('src'))
      for (const match of readFileSync(file, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g))
        read.add(match[1] as string);
    read.delete('CASTPOOL_CONFIG');
    read.delete('PATH'); // the browser's minimal environment, not configuration
    const documented = new Set(bindings.map((b) => b.name));
    expect([...read].filter((name) => !documented.has(name))).toEqual([]);
  });

  it('names every variable in the README configuration table', () => {
    const readme = readFileSync('README.md', 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'));
    expect(bindings.map((b) => b.name).filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });

  it('refuses an invalid value with the key named', () => {
    expect(() => loadConfig({}, { CASTPOOL_MAX_SESSIONS: 'many' })).toThrow(/maxSessions/);
    expect(() => loadConfig({}, { PORT: '70000' })).toThrow(/port/);
  });

  it('lets overrides win over the environment, and the environment over the defaults', () => {
    expect(loadConfig({ maxSessions: 3 }, { CASTPOOL_MAX_SESSIONS: '9' }).maxSessions).toBe(3);
    expect(loadConfig({}, { CASTPOOL_MAX_SESSIONS: '9' }).maxSessions).toBe(9);
  });
});
