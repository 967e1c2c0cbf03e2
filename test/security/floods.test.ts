import { floodSuite } from './flood-suite.js';

// The short run of the flood suite (the full one: npm run test:security).
floodSuite({ offers: 12, slowClients: 40, inputs: 600, texts: 50, thumbnailWidths: 40 });
