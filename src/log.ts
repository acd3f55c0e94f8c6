/**
 * Logging: one pino root logger per process, a child per service tagged `svc`.
 *
 * JSON lines on stdout (what `docker logs` and log shippers read); when stdout is a
 * terminal, pino-pretty renders the same events for humans, synchronously in this thread
 * (no transport worker: it would cost a thread and memory on a Pi).
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';

export type LogFormat = 'auto' | 'json' | 'pretty';

export function createRootLogger(opts: { level: LevelWithSilent; format: LogFormat }): Logger {
  const usePretty =
    opts.format === 'pretty' || (opts.format === 'auto' && process.stdout.isTTY === true);
  const base = { level: opts.level, base: { pid: process.pid } };
  if (usePretty) {
    // Loaded only for a terminal: containers and pipes never pay for it (about 8 MB RSS).
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(
      base,
      pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  }
  return pino(base);
}
