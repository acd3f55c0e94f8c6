/**
 * The explicit list of services, in start order (DESIGN.md). Stop order is the reverse.
 * DNS starts first: the others may name hosts that it serves.
 */
import type { ServiceDefinition } from '../src/service.js';
import dns from './dns/index.js';

export const services: readonly ServiceDefinition[] = [dns as unknown as ServiceDefinition];
