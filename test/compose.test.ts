import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envBindings, loadConfig } from '../src/config.js';

// No Docker engine on the development machines: check the file against what the code reads.
const compose = parse(readFileSync('compose.yml', 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      image?: string;
      build?: string;
      command?: string[];
      environment?: Record<string, string>;
      init?: boolean;
      shm_size?: string;
    }
  >;
};
const dockerfile = readFileSync('Dockerfile', 'utf8');
const run = promisify(execFile);
/** Every environment variable castpool reads: those the config schema documents, and the config file. */
const envRead = new Set([...envBindings().map((b) => b.name), 'CASTPOOL_CONFIG']);

const natsServices = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('nats'));
const castpoolServices = Object.entries(compose.services).filter(([, s]) => s.build === '.');
const flag = (command: string[], name: string) => command[command.indexOf(name) + 1];

describe('compose.yml', () => {
  it('runs a 3-server NATS cluster with JetStream, each routed to the other two', () => {
    expect(natsServices.map(([name]) => name).sort()).toEqual(['nats1', 'nats2', 'nats3']);
    for (const [name, service] of natsServices) {
      const command = service.command ?? [];
      expect(command).toContain('-js');
      expect(flag(command, '--server_name')).toBe(name);
      expect(flag(command, '--cluster_name')).toBe('castpool');
      const clusterPort = flag(command, '--cluster')?.split(':').at(-1);
      const routes = (flag(command, '--routes') ?? '').split(',').map((r) => new URL(r));
      expect(routes.map((r) => r.hostname).sort()).toEqual(
        natsServices.map(([other]) => other).filter((other) => other !== name),
      );
      for (const route of routes) expect(route.port).toBe(clusterPort);
    }
  });

  it('runs two castpool nodes whose environment is exactly what the code reads', () => {
    expect(castpoolServices).toHaveLength(2);
    const ids = new Set<string>();
    for (const [name, service] of castpoolServices) {
      const env = service.environment ?? {};
      for (const key of Object.keys(env))
        expect(envRead, `${name}: ${key} is not read by castpool`).toContain(key);
      ids.add(env.CASTPOOL_NODE_ID as string);
      expect(env.HOST).toBe('0.0.0.0');
      // Listening on every address, it tells the other node where it is (CDP relays): its own service.
      expect(env.CASTPOOL_ADVERTISE_URL).toBe(`http://${name}:${env.PORT}`);
      // Beyond loopback castpool needs API tokens, and a fleet needs one shared secret: both required.
      expect(env.CASTPOOL_API_TOKEN).toMatch(/^\$\{CASTPOOL_API_TOKEN:\?/);
      expect(env.CASTPOOL_FLEET_SECRET).toMatch(/^\$\{CASTPOOL_FLEET_SECRET:\?/);
      expect(service.init).toBe(true);
      expect(service.shm_size).toBeDefined();
      // Every NATS server named is a compose service, on the port it listens on.
      for (const server of (env.NATS_URL ?? '').split(',')) {
        const url = new URL(server);
        const target = compose.services[url.hostname];
        expect(target?.image, `${name}: ${server}`).toMatch(/^nats/);
        expect(flag(target?.command ?? [], '-p')).toBe(url.port);
      }
      // The config file it names exists in the image (COPY config) and is valid.
      const file = (env.CASTPOOL_CONFIG ?? '').replace(/^\/app\//, '');
      expect(file.startsWith('config/'), file).toBe(true);
      const config = loadConfig({}, { CASTPOOL_CONFIG: file, NATS_URL: env.NATS_URL });
      expect(config.nats.replicas).toBe(natsServices.length);
      expect(config.nats.url).toBe(env.NATS_URL);
    }
    expect(ids.size).toBe(2);
  });

  it('offers a TURN server that shares its secret with the castpool nodes, by file and not argv', () => {
    const file = readFileSync('compose.yml', 'utf8');
    const turn = compose.services.turn as { image?: string; command?: string[]; network_mode?: string };
    expect(turn.image).toMatch(/^coturn\//);
    expect(turn.network_mode).toBe('host');
    expect(turn.command?.join(' ')).not.toMatch(/secret/);
    const conf = /turnserver:\n\s+content: \|\n([\s\S]+?)\n\S/.exec(file)?.[1] ?? '';
    expect(conf).toMatch(/^\s+use-auth-secret$/m);
    expect(conf).toMatch(/^\s+static-auth-secret=\$\{CASTPOOL_TURN_SECRET:-\}$/m);
    // Loopback and link-local (cloud metadata) are never relayed to.
    expect(conf).toMatch(/denied-peer-ip=127\.0\.0\.0-127\.255\.255\.255/);
    expect(conf).toMatch(/denied-peer-ip=169\.254\.0\.0-169\.254\.255\.255/);
    for (const [, service] of castpoolServices) {
      expect(service.environment?.CASTPOOL_TURN_SECRET).toMatch(/^\$\{CASTPOOL_TURN_SECRET:-\}$/);
      expect(envRead).toContain('CASTPOOL_TURN_URLS');
    }
    const withTurn = loadConfig({}, { CASTPOOL_TURN_URLS: 'turn:turn.example:3478?transport=udp' });
    expect(withTurn.webrtc.turn.urls).toEqual(['turn:turn.example:3478?transport=udp']);
  });

  it('builds an image with Chromium, ffmpeg, nats-server and an init that reaps zombies', () => {
    for (const pkg of ['chromium', 'ffmpeg', 'nats-server', 'tini'])
      expect(dockerfile).toMatch(new RegExp(`\\b${pkg}\\b`));
    expect(dockerfile).toMatch(/ENTRYPOINT \["\/usr\/bin\/tini", "--"\]/);
    // Compiled in a build stage; the image runs JavaScript with production dependencies only.
    expect(dockerfile).toMatch(/RUN bash scripts\/build\.sh/);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist \.\/dist/);
    expect(dockerfile).toMatch(/CMD \["node", "dist\/main\.js"\]/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
  });

  it('monitors every castpool node: Prometheus with the API token from a file and the alerting rules, Grafana with the dashboard', async () => {
    const file = readFileSync('compose.yml', 'utf8');
    const prometheus = compose.services.prometheus as { volumes?: string[]; command?: string[] };
    const mount = (prometheus.volumes ?? []).find((v) => v.startsWith('./deploy/prometheus:'));
    const inContainer = mount?.split(':')[1] ?? '';
    const configFile = (prometheus.command ?? []).find((c) => c.startsWith('--config.file='))?.split('=')[1];
    expect(configFile).toBe(`${inContainer}/prometheus.yml`);
    const scrape = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as {
      rule_files: string[];
      scrape_configs: {
        job_name: string;
        authorization: { credentials_file: string };
        static_configs: { targets: string[] }[];
      }[];
    };
    expect(scrape.rule_files).toEqual(['castpool-alerts.yml']);
    const [job] = scrape.scrape_configs;
    // The rules expect the job to be called castpool.
    expect(job?.job_name).toBe('castpool');
    const targets = job?.static_configs.flatMap((c) => c.targets) ?? [];
    expect(targets.sort()).toEqual(
      castpoolServices.map(([name, s]) => `${name}:${s.environment?.PORT ?? '8000'}`).sort(),
    );
    // /metrics is an API route: the token reaches Prometheus as a compose config file, never in argv.
    expect(job?.authorization.credentials_file).toBe('/run/secrets/castpool-api-token');
    expect(file).toMatch(/prometheus-api-token:\n\s+content: \$\{CASTPOOL_API_TOKEN:\?/);
    expect(file).toMatch(/source: prometheus-api-token\n\s+target: \/run\/secrets\/castpool-api-token/);
    const { stdout } = await run('promtool', [
      'check',
      'config',
      '--syntax-only',
      'deploy/prometheus/prometheus.yml',
    ]);
    expect(stdout).toMatch(/SUCCESS/);
    const grafana = compose.services.grafana as { volumes?: string[] };
    expect(grafana.volumes).toEqual(
      expect.arrayContaining([
        './deploy/grafana/provisioning:/etc/grafana/provisioning:ro',
        './deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro',
      ]),
    );
  });

  it('has a GPU variant that passes /dev/dri to every castpool node and requires a GPU there', () => {
    const gpu = parse(readFileSync('compose.gpu.yml', 'utf8')) as {
      services: Record<string, { devices?: string[]; environment?: Record<string, string> }>;
    };
    expect(Object.keys(gpu.services).sort()).toEqual(castpoolServices.map(([name]) => name).sort());
    for (const [name, service] of Object.entries(gpu.services)) {
      expect(service.devices, name).toEqual(['/dev/dri:/dev/dri']);
      for (const key of Object.keys(service.environment ?? {})) expect(envRead).toContain(key);
      const config = loadConfig({}, { CASTPOOL_GPU: service.environment?.CASTPOOL_GPU });
      expect(config.gpu).toBe('require');
    }
  });
});
