#!/usr/bin/env node
// Entry point of the `focal-yolo` command; the CLI itself lives in src/cli (built to dist/cli).
import { main } from '../dist/cli/index.js';

process.exitCode = await main(process.argv);
