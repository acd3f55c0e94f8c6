/**
 * The explicit list of services, in start order (DESIGN.md). Stop order is the reverse.
 * DNS starts first: the others may name hosts that it serves. The monitor starts last: it
 * scrapes the others.
 */
import type { ServiceDefinition } from '../src/service.js';
import dns from './dns/index.js';
import dhcp from './dhcp/index.js';
import ftp from './ftp/index.js';
import http from './http/index.js';
import sip from './sip/index.js';
import monitor from './monitor/index.js';

export const services: readonly ServiceDefinition[] = [
  dns,
  dhcp,
  ftp,
  http,
  sip,
  monitor,
] as unknown as ServiceDefinition[];
