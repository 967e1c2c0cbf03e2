import { readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type Config, ConfigSchema } from './config-schema.js';

export { type Config, ConfigSchema } from './config-schema.js';

const defaultsPath = new URL('../config/default.json', import.meta.url);

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, patch: DeepPartial<T> | undefined): T {
  if (!patch) return base;
  const out = { ...base } as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object'
        ? merge(current, value as DeepPartial<typeof current>)
        : value;
  }
  return out as T;
}

/** "name=token,name2=token2" (a bare token is named "token<n>"). */
function parseTokenList(list: string): Config['auth']['tokens'] {
  return list
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item, index) => {
      const at = item.indexOf('=');
      return at > 0
        ? { name: item.slice(0, at), token: item.slice(at + 1) }
        : { name: `token${index + 1}`, token: item };
    });
}

/** An environment variable bound to a config key: named in that key's description as "(env NAME…". */
export interface EnvBinding {
  name: string;
  path: string[];
  schema: TSchema;
}

/** Every environment variable the schema documents, with the key it sets (derived, never listed twice). */
export function envBindings(schema: TSchema = ConfigSchema, path: string[] = []): EnvBinding[] {
  const bindings: EnvBinding[] = [];
  const name = /\benv ([A-Z][A-Z0-9_]+)/.exec(String(schema.description ?? ''))?.[1];
  if (name) bindings.push({ name, path, schema });
  if (schema.type === 'object' && schema.properties)
    for (const [key, child] of Object.entries(schema.properties as Record<string, TSchema>))
      bindings.push(...envBindings(child, [...path, key]));
  return bindings;
}

/** An environment value as the key's type: numbers, booleans ("1"/"true"), comma-separated lists, strings. */
function fromEnvValue(binding: EnvBinding, raw: string): unknown {
  const { type } = binding.schema;
  if (type === 'integer' || type === 'number') return Number(raw);
  if (type === 'boolean') return raw === '1' || raw === 'true';
  if (type === 'array' && (binding.schema.items as TSchema | undefined)?.type === 'string')
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  if (type === 'array') return parseTokenList(raw);
  return raw;
}

function fromEnv(env: NodeJS.ProcessEnv): DeepPartial<Config> {
  const out: Record<string, unknown> = {};
  for (const binding of envBindings()) {
    const raw = env[binding.name];
    if (!raw) continue;
    let target = out;
    for (const key of binding.path.slice(0, -1)) {
      target[key] ??= {};
      target = target[key] as Record<string, unknown>;
    }
    target[binding.path.at(-1) as string] = fromEnvValue(binding, raw);
  }
  if (env.CASTPOOL_CONFIG) return merge(JSON.parse(readFileSync(env.CASTPOOL_CONFIG, 'utf8')), out);
  return out as DeepPartial<Config>;
}

/** Defaults, then the JSON file named by CASTPOOL_CONFIG, then environment, then `overrides`; validated. */
export function loadConfig(overrides?: DeepPartial<Config>, env = process.env): Config {
  const defaults = JSON.parse(readFileSync(defaultsPath, 'utf8')) as Config;
  const config = merge(merge(defaults, fromEnv(env)), overrides);
  if (!config.dataDir) config.dataDir = join(tmpdir(), `castpool-${process.getuid?.() ?? 0}`);
  if (!config.nodeId) config.nodeId = `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}`;
  const errors = [...Value.Errors(ConfigSchema, config)];
  if (errors.length > 0) {
    const detail = errors.map((e) => `${e.path || '/'}: ${e.message}`).join('; ');
    throw new Error(`invalid castpool configuration: ${detail}`);
  }
  return config;
}
