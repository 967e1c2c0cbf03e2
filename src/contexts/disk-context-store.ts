import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetSeal } from '../nats/fleet-seal.js';
import { fits } from '../nats/record-schemas.js';
import {
  CONTEXT_NAME,
  type ContextStore,
  type ContextSummary,
  type SavedContext,
  SavedContextSchema,
  summaryOf,
  VERSIONS_KEPT,
} from './saved-context.js';

const VERSION_FILE = /^v(\d{1,9})\.sealed$/;

/**
 * Contexts on this node's disk (`<dir>/<name>/v<n>.sealed`, 0600 in 0700 directories): where there is
 * no fleet store (NATS off) or no key the fleet shares. Sealed all the same: with the fleet's key when
 * there is one, else with a key file of this node beside them (`<dir>/.key`) — that keeps cookie
 * values out of the files' plain text, not from someone who can read the directory (said at start).
 */
export class DiskContextStore implements ContextStore {
  readonly scope = 'local';

  private constructor(
    private readonly dir: string,
    private readonly seal: FleetSeal,
  ) {}

  static async open(dir: string, seal?: FleetSeal): Promise<DiskContextStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (seal) return new DiskContextStore(dir, seal);
    const keyFile = join(dir, '.key');
    let key: Buffer;
    try {
      key = await readFile(keyFile);
    } catch {
      key = randomBytes(32);
      await writeFile(keyFile, key, { mode: 0o600, flag: 'wx' }).catch(async () => {
        key = await readFile(keyFile); // another process of this node wrote it first
      });
    }
    return new DiskContextStore(dir, new FleetSeal(key));
  }

  private async versionsOf(name: string): Promise<number[]> {
    let files: string[];
    try {
      files = await readdir(join(this.dir, name));
    } catch {
      return [];
    }
    return files
      .flatMap((file) => {
        const match = VERSION_FILE.exec(file);
        return match ? [Number(match[1])] : [];
      })
      .sort((a, b) => a - b);
  }

  private async read(name: string, version: number) {
    let data: Buffer;
    try {
      data = await readFile(join(this.dir, name, `v${version}.sealed`));
    } catch {
      return undefined;
    }
    const value = this.seal.open(data, `contexts/${name}/v${version}`);
    if (!fits(SavedContextSchema, value)) return undefined;
    const context = value as SavedContext;
    if (context.name !== name || context.version !== version) return undefined;
    return { context, bytes: data.length };
  }

  async save(name: string, value: Omit<SavedContext, 'version' | 'name'>) {
    const dir = join(this.dir, name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (let attempt = 0; ; attempt++) {
      const present = await this.versionsOf(name);
      const version = (present.at(-1) ?? 0) + 1;
      const context: SavedContext = { name, version, ...value };
      const sealed = this.seal.seal(context, `contexts/${name}/v${version}`);
      try {
        // `wx`: a version is written once; two saves at once get two numbers.
        await writeFile(join(dir, `v${version}.sealed`), sealed, { mode: 0o600, flag: 'wx' });
      } catch (error) {
        if (attempt < 3) continue;
        throw error;
      }
      for (const old of present.slice(0, Math.max(0, present.length + 1 - VERSIONS_KEPT)))
        await rm(join(dir, `v${old}.sealed`), { force: true });
      return { context, bytes: sealed.length };
    }
  }

  async get(name: string, version?: number) {
    const chosen = version ?? (await this.versionsOf(name)).at(-1);
    return chosen === undefined ? undefined : this.read(name, chosen);
  }

  async versions(name: string): Promise<ContextSummary[]> {
    const read = await Promise.all((await this.versionsOf(name)).map((v) => this.read(name, v)));
    return read.flatMap((stored) => (stored ? [summaryOf(stored.context, stored.bytes)] : []));
  }

  async list(): Promise<ContextSummary[]> {
    const names = (await readdir(this.dir)).filter((name) => CONTEXT_NAME.test(name)).sort();
    const latest = await Promise.all(names.map((name) => this.get(name)));
    return latest.flatMap((stored) => (stored ? [summaryOf(stored.context, stored.bytes)] : []));
  }

  async delete(name: string): Promise<boolean> {
    const had = (await this.versionsOf(name)).length > 0;
    await rm(join(this.dir, name), { recursive: true, force: true });
    return had;
  }
}
