/**
 * The layers of src/ and the one way their arrows point (docs/architecture.md, "The house"):
 *
 *   main, app → api → fleet → commands → system → actors → observability → machines → media
 *              api → automation (a session's CDP proxy: puppeteer only)
 *                                  ↘ nats (transport)   ↘ access, processes   ↘ config, errors, schemas, settled-within
 *
 * A rule per layer names what it must not import; no module may sit in an import cycle.
 */
const layer = (name, path, mustNotReach, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path },
  to: { path: mustNotReach },
});

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'An import cycle makes layers meaningless and start-up order fragile.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    layer('entry-only', '^src/(?!main\\.ts|app\\.ts)', '^src/(main|app)\\.ts$', 'Only main imports app.'),
    layer('api-down', '^src/api/', '^src/(main|app)\\.ts$', 'Routes do not reach the wiring.'),
    layer('fleet-down', '^src/fleet/', '^src/(api/|main\\.ts|app\\.ts)', 'The fleet is below the routes.'),
    layer(
      'commands-down',
      '^src/commands/',
      '^src/(api|fleet|nats)/|^src/(main|app)\\.ts$',
      'The command layer owns its interface; routes and the fleet call it, never the reverse.',
    ),
    layer(
      'contexts-down',
      '^src/contexts/',
      '^src/(api|fleet|commands|actors|automation|machines|observability)/|^src/(main|app|system)\\.ts$',
      'Saved contexts are storage (the fleet KV or a disk, sealed): they know no commands, actors or machines.',
    ),
    layer(
      'nats-transport',
      '^src/nats/',
      '^src/(api|fleet|commands|actors|machines/(?!types)|observability)/|^src/(main|app|system)\\.ts$',
      'NATS plumbing (connection, registry, seal, rpc) knows no commands or actors.',
    ),
    layer(
      'automation-down',
      '^src/automation/',
      '^src/(api|fleet|commands|nats|machines)/|^src/(main|app|system)\\.ts$',
      "A session's CDP proxy works on what the command layer hands it (tabs, events to send), not on machines.",
    ),
    layer(
      'actors-down',
      '^src/actors/',
      '^src/(api|fleet|commands|nats)/|^src/(main|app|system)\\.ts$',
      'Actors do I/O for machines; they do not call commands or routes.',
    ),
    layer(
      'observability-down',
      '^src/observability/',
      '^src/(api|fleet|commands|nats|actors)/|^src/(main|app|system)\\.ts$',
      'Metrics, events and inspection read machines; they do not drive anything.',
    ),
    layer(
      'machines-pure',
      '^src/machines/',
      '^src/(?!machines/|media/codec\\.ts)',
      'Machines are pure statecharts: no I/O, no imports outside machines (but shared codec types).',
    ),
    layer(
      'media-leaf',
      '^src/media/',
      '^src/(?!media/|errors\\.ts)',
      'Frame and packet code needs no machine.',
    ),
    layer(
      'foundation',
      '^src/(access|processes)/|^src/(config|config-schema|errors|schemas|settled-within)\\.ts$',
      '^src/(api|fleet|commands|nats|actors|machines|observability)/|^src/(main|app|system)\\.ts$',
      'Access, processes, config, errors, schemas and settledWithin are below everything.',
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};
