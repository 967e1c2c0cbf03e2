import { floodSuite } from './flood-suite.js';

// The attacks as reported: 300 offers with one token, 400 slow clients, 10,000 × 4 KB inputs, 400 widths.
floodSuite({ offers: 300, slowClients: 400, inputs: 10_000, texts: 1000, thumbnailWidths: 400 });
