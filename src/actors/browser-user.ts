import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { chmod, chown, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';

/** Who Chromium runs as, and whether its sandbox is on. */
export interface BrowserUser {
  /** Set when castpool (root) starts Chromium as this unprivileged user. */
  user?: { name: string; uid: number; gid: number };
  sandbox: boolean;
}

const WRAPPER = new URL('./chromium-as-user.sh', import.meta.url).pathname;

function lookupUser(name: string): { name: string; uid: number; gid: number } | undefined {
  try {
    const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
    const [, , uid, gid] = line.split(':');
    return uid && gid ? { name, uid: Number(uid), gid: Number(gid) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * As root, Chromium runs as `chromiumUser` (set-up creates `castpool-chromium`), else `nobody`,
 * with its sandbox (user namespaces); as another user, as that user with its sandbox. `--no-sandbox`
 * only when `chromiumSandbox` is "off", or as the logged fallback when a sandboxed start fails.
 */
export function chooseBrowserUser(config: Config, log: FastifyBaseLogger): BrowserUser {
  if (config.chromiumSandbox === 'off') {
    log.warn('Chromium runs with --no-sandbox (chromiumSandbox: "off")');
    return { sandbox: false };
  }
  if (process.getuid?.() !== 0) return { sandbox: true };
  const closed = closedAncestor(config.dataDir);
  if (closed) {
    log.warn(
      { dataDir: config.dataDir, closed },
      `Chromium runs as root with --no-sandbox: an unprivileged user cannot reach dataDir (${closed} is not traversable by others); choose a dataDir under /var/lib or /tmp`,
    );
    return { sandbox: false };
  }
  for (const name of [config.chromiumUser, 'nobody'].filter(Boolean)) {
    const user = lookupUser(name);
    if (!user || user.uid === 0) continue;
    if (name !== config.chromiumUser)
      log.warn(
        { user: name, wanted: config.chromiumUser },
        `Chromium runs as "${name}": user "${config.chromiumUser}" does not exist (npm run setup creates it)`,
      );
    return { user, sandbox: true };
  }
  log.warn('no unprivileged user for Chromium: it runs as root with --no-sandbox');
  return { sandbox: false };
}

/** The first existing ancestor of `dir` that others cannot pass through (0700 /root, say), if any. */
function closedAncestor(dir: string): string | undefined {
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    try {
      if ((statSync(parent).mode & 0o001) === 0) return parent;
    } catch {
      // not there yet: created by castpool with a traversable mode
    }
    if (parent === dirname(parent)) return undefined;
  }
}

/** puppeteer launch options that run Chromium as `who`, in a minimal environment. */
export function launchAs(
  who: BrowserUser,
  chromiumPath: string,
  dirs: { home: string; tmp: string },
): { executablePath: string; env: Record<string, string>; extraArgs: string[] } {
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dirs.home, TMPDIR: dirs.tmp, LANG: 'C.UTF-8' };
  const extraArgs = who.sandbox ? [] : ['--no-sandbox'];
  if (!who.user) return { executablePath: chromiumPath, env, extraArgs };
  return {
    executablePath: WRAPPER,
    env: {
      CASTPOOL_BROWSER_UID: String(who.user.uid),
      CASTPOOL_BROWSER_GID: String(who.user.gid),
      CASTPOOL_BROWSER_BINARY: chromiumPath,
      CASTPOOL_BROWSER_HOME: dirs.home,
      CASTPOOL_BROWSER_TMPDIR: dirs.tmp,
    },
    extraArgs,
  };
}

/** Gives the browser user its profile (0700) and a way through `dataDir` (0711: no listing). */
export async function handOver(who: BrowserUser, dataDir: string, profileDir: string): Promise<void> {
  if (!who.user) return;
  const { uid, gid } = who.user;
  await chmod(dataDir, 0o711);
  const walk = async (dir: string): Promise<void> => {
    await chown(dir, uid, gid);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else await chown(path, uid, gid);
    }
  };
  await walk(profileDir);
  await chmod(profileDir, 0o700);
}
