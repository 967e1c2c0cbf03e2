import { buildApp } from './app.js';
import { loadConfig } from './config.js';

// `--inspect` (after the script name) attaches the Stately inspector, like config inspect.enabled.
const config = loadConfig(process.argv.includes('--inspect') ? { inspect: { enabled: true } } : undefined);
const { app, castpool } = await buildApp(config);
const castpoolTokens = () =>
  castpool.access.tokens.required ? config.auth.tokens.length + (config.apiToken ? 1 : 0) : 0;

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (error) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

try {
  const address = await app.listen({ host: config.host, port: config.port });
  app.log.info(`castpool listening on ${address}; API docs at ${address}/docs`);
  if (!/^(127\.|::1$|localhost$)/.test(config.host))
    app.log.warn(
      { host: config.host, apiTokens: castpoolTokens() },
      `castpool listens on ${config.host}, not loopback: reachable from other machines${castpoolTokens() > 0 ? '' : ' WITHOUT API tokens (set auth.tokens or CASTPOOL_API_TOKEN)'}`,
    );
} catch (error) {
  app.log.error({ err: error }, 'could not start');
  await app.close();
  process.exit(1);
}
