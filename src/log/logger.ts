/**
 * Logging: pino, with human-readable lines on stderr (pino-pretty) unless `json`, and with a
 * `file`, JSON lines in `<file>.log` rotated by size with ReCodEx's naming: the rotated files are
 * `<file>.1.log` (newest) … `<file>.<rotations>.log` (oldest); older ones are deleted.
 */
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import { pino, type DestinationStream, type Logger, type StreamEntry } from 'pino';
import pretty from 'pino-pretty';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';
import type { LogLevel, LoggerConfig } from '../config/types.js';

/** What createLogger needs: the logger config, a name, and (for tests) where stderr is. */
export interface CreateLoggerOptions extends LoggerConfig {
  /** Shown as `name` on every line (`broker`, `worker`, `up`). */
  name?: string;
  /** Where the stderr lines go; defaults to file descriptor 2. */
  stderr?: DestinationStream & { isTTY?: boolean };
}

/** Which kind of command is logging: client commands are quiet by default. */
export type CommandKind = 'client' | 'server';

/**
 * The level chosen by the logging flags: `--debug` → debug, `--verbose` → info; otherwise
 * `fallback`, or warn for client commands and info for server commands (broker, up, worker).
 */
export function levelFromFlags(
  flags: { debug?: boolean; verbose?: boolean },
  kind: CommandKind,
  fallback?: LogLevel,
): LogLevel {
  if (flags.debug === true) return 'debug';
  if (flags.verbose === true) return 'info';
  return fallback ?? (kind === 'client' ? 'warn' : 'info');
}

/** Streams a logger owns and must end on close, by logger. */
const ownedFiles = new WeakMap<Logger, RotatingFileStream>();

/**
 * Creates the process's logger. Lines go to stderr (pretty or JSON) and, with `file`, also to the
 * rotating log file as JSON. Call `closeLogger` at shutdown so the file is flushed.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const streams: StreamEntry<LogLevel>[] = [];
  const level = options.level;
  if (options.json) {
    streams.push({ level, stream: options.stderr ?? pino.destination({ fd: 2, sync: true }) });
  } else {
    const isTTY = (options.stderr ?? process.stderr).isTTY === true;
    streams.push({
      level,
      stream: pretty({
        destination: options.stderr ?? 2,
        sync: true,
        colorize: isTTY,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      }),
    });
  }
  let file: RotatingFileStream | undefined;
  if (options.file !== null) {
    file = openLogFile(options.file, options.maxSize, options.rotations);
    streams.push({ level, stream: file });
  }
  const logger = pino(
    { level, ...(options.name === undefined ? {} : { name: options.name }) },
    // pino's types want `Level` streams; 'silent' is a valid logger level but not a stream level.
    pino.multistream(streams.filter((s) => s.level !== 'silent') as StreamEntry[], {
      dedupe: false,
    }),
  );
  if (file !== undefined) ownedFiles.set(logger, file);
  return logger;
}

/**
 * Opens `<base>.log` for appending, rotated when it would exceed `maxSize` bytes, keeping
 * `rotations` older files as `<base>.1.log`, `<base>.2.log`… Creates the directory if needed.
 */
export function openLogFile(base: string, maxSize: number, rotations: number): RotatingFileStream {
  mkdirSync(dirname(base), { recursive: true });
  // In classical ("rotate") mode the generator gets the rotation index as its first argument:
  // 0 or undefined for the live file, 1..rotations for the rotated ones.
  const name = (index: number | Date): string =>
    typeof index === 'number' && index > 0 ? `${base}.${index}.log` : `${base}.log`;
  const stream = createStream(name, { size: `${maxSize}B`, rotate: rotations });
  stream.on('error', (err) => {
    // A failing log file must not crash the process; say so once on stderr.
    console.error(`switchyard: log file ${base}.log: ${err.message}`);
  });
  return stream;
}

/** Flushes and closes the log file of a logger made by createLogger (no-op without one). */
export async function closeLogger(logger: Logger): Promise<void> {
  const file = ownedFiles.get(logger);
  if (file === undefined) return;
  ownedFiles.delete(logger);
  await new Promise<void>((resolve) => {
    file.once('finish', () => resolve());
    file.once('error', () => resolve());
    file.end();
  });
  // The stream's own close (fd release) follows finish.
  await new Promise<void>((resolve) => {
    if (file.closed) resolve();
    else file.once('close', () => resolve());
  });
}
