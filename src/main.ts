import { startupChecks } from './access/startup-checks.js';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';

// `--inspect` (after the script name) attaches the Stately inspector, like config inspect.enabled.
const config = loadConfig(process.argv.includes('--inspect') ? { inspect: { enabled: true } } : undefined);
const checks = startupChecks(config);
if (checks.refusal) {
  console.error(`castpool: refusing to start: ${checks.refusal}`);
  process.exit(1);
}
const { app } = await buildApp(config);
for (const warning of checks.warnings) app.log.warn(warning);

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
} catch (error) {
  app.log.error({ err: error }, 'could not start');
  await app.close();
  process.exit(1);
}
