import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { authPlugin } from './api/auth.js';
import { errorsPlugin } from './api/errors.js';
import { pageRoutes } from './api/pages.js';
import { sessionRoutes } from './api/sessions.js';
import { statusRoutes } from './api/status.js';
import { whepRoutes } from './api/whep.js';
import { Commands } from './commands.js';
import type { Config } from './config.js';
import { type Castpool, createCastpool } from './system.js';

export interface App {
  app: FastifyInstance;
  castpool: Castpool;
  commands: Commands;
}

/** Builds the Fastify instance and the actor system behind it; `app.close()` ends every session. */
export async function buildApp(config: Config): Promise<App> {
  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: 256 * 1024,
    forceCloseConnections: true,
    // Unknown fields are an error, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  const castpool = createCastpool(config, app.log);
  const commands = new Commands(castpool);
  app.addHook('onClose', async () => {
    app.log.info('closing every session');
    await castpool.shutdown();
  });

  await app.register(errorsPlugin);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'castpool',
        version: '0.1.0',
        description: 'Live headless-Chromium sessions over WebRTC (WHEP)',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(authPlugin, { token: config.apiToken });
  await app.register(sessionRoutes, { commands, publicUrl: config.publicUrl });
  await app.register(whepRoutes, { commands, publicUrl: config.publicUrl });
  await app.register(pageRoutes, { commands });
  await app.register(statusRoutes, { castpool, commands });
  return { app, castpool, commands };
}
