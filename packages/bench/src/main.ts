#!/usr/bin/env node
// Entry point: node packages/bench/dist/main.js --help
import { main } from './index.js';

process.exitCode = await main(process.argv.slice(2));
