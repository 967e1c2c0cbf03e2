import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { deleteLabNamespace, LAB_PREFIX, orphanLabNamespaces, sh } from './lab-namespaces.js';
import { TEST_ROOT } from './test-root.js';
import { viewerLaunchOptions } from './viewer-options.js';

/**
 * A small network of Linux namespaces for tests of real network conditions (root only; `netem` is not
 * in this kernel, so loss and blocking are nft rules and bandwidth is tc tbf). Addresses are from
 * 198.18.0.0/15 (reserved for network tests), never another host's:
 *
 *   castpool (this namespace) 198.18.0.1 ── 198.18.0.2 router ─┬─ 198.18.1.1 ── 198.18.1.2 viewer
 *                                                              └─ 198.18.2.1 ── 198.18.2.2 turn
 *
 * The router forwards (its own namespace's switch, not this host's); this namespace only gets routes
 * to the two far links, through its veth. `close()` removes the namespaces, which takes their veths
 * and the routes with them.
 */
export const LAB = {
  castpool: '198.18.0.1',
  viewer: '198.18.1.2',
  /** Where moveViewer() puts the viewer. */
  viewerMoved: '198.18.1.3',
  turn: '198.18.2.2',
} as const;

/** A dead run's namespaces are swept before a lab is built. */
function sweepDeadRuns(): void {
  for (const name of orphanLabNamespaces()) deleteLabNamespace(name);
}

/** Whether this machine can build the lab (root, ip, nft). */
export function labAvailable(): boolean {
  try {
    return process.getuid?.() === 0 && sh('ip', ['-V']).length > 0 && sh('nft', ['--version']).length > 0;
  } catch {
    return false;
  }
}

export interface NetworkLab {
  readonly names: { router: string; viewer: string; turn: string };
  /** Runs a command in one of the lab's namespaces. */
  exec(ns: 'router' | 'viewer' | 'turn', command: string, args: string[]): string;
  /** The viewer's network changes: its address moves to LAB.viewerMoved, the old one is gone. */
  moveViewer(): void;
  /** nft rules for the viewer's namespace (a whole `table inet lab { … }`), replacing earlier ones. */
  viewerFirewall(rules: string): void;
  /** Caps what reaches the viewer (tc tbf on the router's side of its link); null lifts the cap. */
  limitViewer(kbitPerSecond: number | null): void;
  /** A Chromium whose network is the viewer's namespace (pipe transport: no port to reach). */
  launchViewer(): Promise<Browser>;
  /** A TURN server (coturn) in the turn namespace, with a shared secret; stopped by close(). */
  startTurn(secret: string): Promise<{ url: string; log: () => string }>;
  close(): Promise<void>;
}

export async function buildNetworkLab(): Promise<NetworkLab> {
  sweepDeadRuns();
  const id = `${LAB_PREFIX}${process.pid}`;
  const names = { router: `${id}-r`, viewer: `${id}-v`, turn: `${id}-t` };
  const tag = (process.pid % 0xffff).toString(16);
  const children: { pid: number }[] = [];
  const dir = mkdtempSync(join(TEST_ROOT, 'lab-'));
  const inNs = (ns: string, command: string, args: string[]) =>
    sh('ip', ['netns', 'exec', ns, command, ...args]);
  const close = async () => {
    for (const child of children)
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    for (const ns of Object.values(names))
      try {
        sh('ip', ['netns', 'delete', ns]);
      } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const ns of Object.values(names)) {
      sh('ip', ['netns', 'add', ns]);
      inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
    }
    inNs(names.router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    const link = (here: string, hereNs: string | undefined, there: string, thereNs: string) => {
      sh('ip', ['link', 'add', here, 'type', 'veth', 'peer', 'name', there]);
      if (hereNs) sh('ip', ['link', 'set', here, 'netns', hereNs]);
      sh('ip', ['link', 'set', there, 'netns', thereNs]);
    };
    const up = (ns: string | undefined, dev: string, address: string) => {
      const run = (args: string[]) => (ns ? inNs(ns, 'ip', args) : sh('ip', args));
      run(['addr', 'add', address, 'dev', dev]);
      run(['link', 'set', dev, 'up']);
    };
    // castpool ↔ router
    link(`cpl${tag}h`, undefined, `cpl${tag}r0`, names.router);
    up(undefined, `cpl${tag}h`, '198.18.0.1/30');
    up(names.router, `cpl${tag}r0`, '198.18.0.2/30');
    // router ↔ viewer, router ↔ turn
    link(`cpl${tag}v`, names.viewer, `cpl${tag}r1`, names.router);
    // A /29: room for the viewer to move to another address (moveViewer).
    up(names.viewer, `cpl${tag}v`, '198.18.1.2/29');
    up(names.router, `cpl${tag}r1`, '198.18.1.1/29');
    inNs(names.viewer, 'sysctl', ['-qw', `net.ipv4.conf.cpl${tag}v.promote_secondaries=1`]);
    link(`cpl${tag}t`, names.turn, `cpl${tag}r2`, names.router);
    up(names.turn, `cpl${tag}t`, '198.18.2.2/30');
    up(names.router, `cpl${tag}r2`, '198.18.2.1/30');
    inNs(names.viewer, 'ip', ['route', 'add', 'default', 'via', '198.18.1.1']);
    inNs(names.turn, 'ip', ['route', 'add', 'default', 'via', '198.18.2.1']);
    for (const net of ['198.18.1.0/29', '198.18.2.0/30'])
      sh('ip', ['route', 'add', net, 'via', '198.18.0.2', 'dev', `cpl${tag}h`]);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    names,
    exec: (ns, command, args) => inNs(names[ns], command, args),
    moveViewer() {
      const dev = `cpl${tag}v`;
      inNs(names.viewer, 'ip', ['addr', 'add', `${LAB.viewerMoved}/29`, 'dev', dev]);
      inNs(names.viewer, 'ip', ['addr', 'del', `${LAB.viewer}/29`, 'dev', dev]);
      inNs(names.viewer, 'ip', ['route', 'replace', 'default', 'via', '198.18.1.1']);
    },
    limitViewer(kbitPerSecond) {
      const dev = `cpl${tag}r1`;
      if (kbitPerSecond === null) {
        inNs(names.router, 'tc', ['qdisc', 'del', 'dev', dev, 'root']);
        return;
      }
      // A token bucket with a queue of at most 200 ms, as an access link's buffer: beyond it, drops.
      inNs(names.router, 'tc', [
        'qdisc',
        'replace',
        'dev',
        dev,
        'root',
        'tbf',
        'rate',
        `${kbitPerSecond}kbit`,
        'burst',
        '16kb',
        'latency',
        '200ms',
      ]);
    },
    viewerFirewall(rules) {
      const file = join(dir, 'viewer.nft');
      writeFileSync(file, `table inet lab\ndelete table inet lab\n${rules}\n`);
      inNs(names.viewer, 'nft', ['-f', file]);
    },
    async launchViewer() {
      const wrapper = join(dir, 'chromium-in-viewer-ns');
      const options = viewerLaunchOptions(mkdtempSync(join(dir, 'viewer-')));
      writeFileSync(
        wrapper,
        `#!/bin/sh\nexec ip netns exec ${names.viewer} ${options.executablePath} "$@"\n`,
        {
          mode: 0o755,
        },
      );
      return puppeteer.launch({ ...options, executablePath: wrapper, pipe: true });
    },
    async startTurn(secret) {
      const logFile = join(dir, 'turn.log');
      // The secret goes in a 0600 file, not argv.
      const conf = join(dir, 'turnserver.conf');
      writeFileSync(
        conf,
        [
          `listening-ip=${LAB.turn}`,
          `relay-ip=${LAB.turn}`,
          'listening-port=3478',
          'min-port=49152',
          'max-port=49407',
          'use-auth-secret',
          `static-auth-secret=${secret}`,
          'realm=castpool.test',
          'fingerprint',
          'no-tls',
          'no-dtls',
          'no-cli',
          'no-rfc5780',
          'no-stun-backward-compatibility',
          `log-file=${logFile}`,
          'simple-log',
          'verbose',
          `pidfile=${join(dir, 'turn.pid')}`,
          `userdb=${join(dir, 'turndb')}`,
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      const child = spawn('ip', ['netns', 'exec', names.turn, 'turnserver', '-c', conf], {
        detached: true,
        stdio: 'ignore',
      });
      if (child.pid === undefined) throw new Error('turnserver did not start');
      children.push({ pid: child.pid });
      const log = () => (existsSync(logFile) ? execFileSync('cat', [logFile]).toString() : '');
      // Listening once its UDP socket is bound.
      for (let i = 0; i < 100; i++) {
        if (inNs(names.turn, 'ss', ['-uln']).includes(`${LAB.turn}:3478`)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return { url: `turn:${LAB.turn}:3478?transport=udp`, log };
    },
    close,
  };
}
