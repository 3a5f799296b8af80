/**
 * The shell runner: the handler the `switchyard worker` agent uses for `shell` jobs. Each job is
 * one process in its own process group, so that stopping a job stops everything it started, and
 * nothing of it outlives the job: stragglers left when the command exits are killed too, and the
 * group is tethered to the agent (tether.ts), so that it dies with an agent killed outright.
 *
 * A job talks back by printing lines on stdout: `::progress 40 compiling`,
 * `::step compile completed` (a named step: started, completed, failed or skipped, as
 * ReCodEx's `TASK <id> COMPLETED`) and `::attr endpoint=host:4711` (they stay in the log as
 * well).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { InfrastructureError, JobAborted, PermanentError, RetryableError } from './errors.js';
import type { Logger } from './logger.js';
import { TETHERED_STDIO, WRAPPER_SHELL, findExecutable, tetheredArgs } from './tether.js';
import type { Handler, JobContext } from './worker.js';
import type { StepStatus } from '../domain/job.js';

/** The payload of a `shell` job. */
export interface ShellPayload {
  /** A string runs with `<shell> -c`; an array runs directly (argv, no shell). */
  command: string | string[];
  /** Relative to the runner's default directory. */
  cwd?: string;
  env?: Record<string, string>;
  /** Defaults to the JSON of the whole payload. */
  stdin?: string;
  /** Exit codes that mean "do not retry". */
  noRetryExitCodes?: number[];
}

/** A shell job's result, also attached to its failures. */
export interface ShellResult {
  exitCode: number | null;
  signal: string | null;
  /** The last 4 KiB of each stream. */
  stdout: string;
  stderr: string;
}

/** How the agent sets up its shell runner. */
export interface ShellOptions {
  /** The shell for string commands; `/bin/sh`. */
  shell?: string;
  /** Where jobs run when they name no cwd (and what a relative cwd is relative to). */
  defaultCwd?: string;
  logger?: Logger;
}

const TAIL_BYTES = 4096;
/** A line longer than this is not scanned for directives (it is still logged). */
const MAX_DIRECTIVE_LINE = 65_536;
/** Node fires longer timers at once. */
const MAX_DELAY_MS = 2_147_483_647;
/** How long output may still come after the command exited. */
const PIPE_DRAIN_MS = 2_000;
const PROGRESS = /^::progress\s+(\S+)(?:\s+(.*))?$/;
const ATTR = /^::attr\s+([^=\s]+)=(.*)$/;
const STEP = /^::step\s+(\S{1,200})\s+(started|completed|failed|skipped)(?:\s+(.*))?$/i;

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

const hasNul = (s: string): boolean => s.includes('\0');

/** Validates a shell payload; a PermanentError names the bad field. */
export function parseShellPayload(payload: unknown): ShellPayload {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new PermanentError('payload must be an object', { code: 'invalid_payload' });
  }
  const p = payload as Record<string, unknown>;
  const bad = (message: string): PermanentError =>
    new PermanentError(message, { code: 'invalid_payload' });
  const { command, cwd, env, stdin, noRetryExitCodes } = p;
  if (typeof command === 'string') {
    if (command.trim().length === 0 || hasNul(command)) {
      throw bad('payload.command must not be empty or contain NUL');
    }
  } else if (Array.isArray(command)) {
    if (command.length === 0 || !command.every((a): a is string => typeof a === 'string')) {
      throw bad('payload.command must be a string or an array of strings');
    }
    if (command[0] === '' || command.some(hasNul)) {
      throw bad('payload.command[0] must not be empty, and no argument may contain NUL');
    }
  } else {
    throw bad('payload.command must be a string or an array of strings');
  }
  if (cwd !== undefined && (typeof cwd !== 'string' || cwd.length === 0 || hasNul(cwd))) {
    throw bad('payload.cwd must be a non-empty string');
  }
  if (env !== undefined) {
    if (!isStringRecord(env)) throw bad('payload.env must be an object of strings');
    for (const [key, value] of Object.entries(env)) {
      if (key.length === 0 || key.includes('=') || hasNul(key) || hasNul(value)) {
        throw bad(`payload.env.${key} is not a valid environment variable`);
      }
    }
  }
  if (stdin !== undefined && typeof stdin !== 'string') throw bad('payload.stdin must be a string');
  if (
    noRetryExitCodes !== undefined &&
    (!Array.isArray(noRetryExitCodes) || !noRetryExitCodes.every((c) => Number.isInteger(c)))
  ) {
    throw bad('payload.noRetryExitCodes must be an array of whole numbers');
  }
  return p as unknown as ShellPayload;
}

/** One output stream: streamed to the job's log, its tail kept, stdout scanned for directives. */
class Output {
  private tail = Buffer.alloc(0);
  private readonly decoder = new StringDecoder('utf8');
  private line = '';
  private skippingLongLine = false;

  constructor(
    private readonly stream: 'stdout' | 'stderr',
    private readonly ctx: JobContext,
  ) {}

  push(chunk: Buffer): void {
    const joined = Buffer.concat([this.tail, chunk]);
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_BYTES)));
    this.emit(this.decoder.write(chunk));
  }

  end(): void {
    this.emit(this.decoder.end());
    if (this.line.length > 0 && !this.skippingLongLine) this.directive(this.line);
    this.line = '';
  }

  /** The tail as text, starting at a character boundary. */
  text(): string {
    let start = 0;
    while (
      start < this.tail.length &&
      start < 3 &&
      ((this.tail[start] as number) & 0xc0) === 0x80
    ) {
      start++;
    }
    return this.tail.subarray(start).toString('utf8');
  }

  lastLine(): string {
    const lines = this.text().split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = (lines[i] as string).trim();
      if (line.length > 0) return line.slice(0, 500);
    }
    return '';
  }

  private emit(text: string): void {
    if (text.length === 0) return;
    this.ctx.log(text, this.stream);
    if (this.stream === 'stdout') this.scan(text);
  }

  private scan(text: string): void {
    let rest = this.line + text;
    let newline = rest.indexOf('\n');
    while (newline !== -1) {
      if (!this.skippingLongLine) this.directive(rest.slice(0, newline));
      this.skippingLongLine = false;
      rest = rest.slice(newline + 1);
      newline = rest.indexOf('\n');
    }
    if (rest.length > MAX_DIRECTIVE_LINE) {
      this.skippingLongLine = true;
      rest = '';
    }
    this.line = rest;
  }

  private directive(raw: string): void {
    if (!raw.startsWith('::')) return;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    try {
      const progress = PROGRESS.exec(line);
      if (progress !== null) {
        const percent = Number(progress[1]);
        if (Number.isFinite(percent) && percent >= 0 && percent <= 100) {
          const message = progress[2]?.trim();
          this.ctx.progress(percent, message === '' ? undefined : message);
        }
        return;
      }
      const step = STEP.exec(line);
      if (step !== null) {
        const message = step[3]?.trim();
        this.ctx.step(
          step[1] as string,
          (step[2] as string).toLowerCase() as StepStatus,
          message === '' ? undefined : message,
        );
        return;
      }
      const attr = ATTR.exec(line);
      if (attr !== null) this.ctx.attr(attr[1] as string, attr[2] as string);
    } catch {
      // A malformed directive (an over-long key) is just output.
    }
  }
}

/** Sends a signal to a whole process group; false when the group is gone. */
function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function signalName(name: string): NodeJS.Signals {
  return Object.hasOwn(os.constants.signals, name) ? (name as NodeJS.Signals) : 'SIGTERM';
}

function describe(command: string | string[]): string {
  const text = Array.isArray(command) ? command.join(' ') : command;
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** The job's environment: the agent's own SWITCHYARD_* settings (its token) stay out of it. */
function environment(ctx: JobContext, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SWITCHYARD_')) out[key] = value;
  }
  return {
    ...out,
    ...env,
    SWITCHYARD_JOB_ID: ctx.id,
    SWITCHYARD_ATTEMPT: String(ctx.attempt),
    SWITCHYARD_JOB_TYPE: ctx.type,
    SWITCHYARD_QUEUE: ctx.queue,
  };
}

interface Exit {
  exitCode: number | null;
  signal: string | null;
}

/** What to start: the program found on the job's PATH, its arguments, where and with what. */
interface Launch {
  file: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdin: string;
}

/**
 * Finds the program before the wrapper runs it, so that a missing or non-executable one is a
 * spawn failure, as with a direct spawn, rather than the wrapper's exit code 127.
 */
async function launchOf(
  ctx: JobContext,
  payload: ShellPayload,
  cwd: string,
  shell: string,
): Promise<Launch> {
  const [program, args] = Array.isArray(payload.command)
    ? [payload.command[0] as string, payload.command.slice(1)]
    : [shell, ['-c', payload.command]];
  const env = environment(ctx, payload.env);
  let file: string;
  try {
    file = await findExecutable(program, cwd, env.PATH);
  } catch (error) {
    throw spawnFailed(payload.command, error);
  }
  return { file, args, cwd, env, stdin: payload.stdin ?? JSON.stringify(ctx.payload) };
}

/** A tethered child's stdio; the Node types only know three-stream tuples. */
type Tethered = [stdin: Writable, stdout: Readable, stderr: Readable, tether: Socket];

/**
 * Runs the process to its end: exit, output drained, the process group gone. Rejects only when
 * the process could not be started.
 */
function runProcess(
  ctx: JobContext,
  launch: Launch,
  command: string | string[],
  outputs: { stdout: Output; stderr: Output },
): Promise<Exit> {
  return new Promise<Exit>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(WRAPPER_SHELL, tetheredArgs(launch.file, launch.args), {
        cwd: launch.cwd,
        env: launch.env,
        detached: true,
        stdio: [...TETHERED_STDIO],
      });
    } catch (error) {
      reject(spawnFailed(command, error));
      return;
    }
    // Detached: the child leads a process group of its own, whose usage heartbeats report.
    if (child.pid !== undefined) ctx.processGroup?.(child.pid);
    // All four are pipes (TETHERED_STDIO); the tether is a socket the agent only holds open.
    const [stdin, stdout, stderr, tether] = child.stdio as unknown as Tethered;
    let exit: Exit | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      const reason = ctx.signal.reason;
      const signal = reason instanceof JobAborted ? signalName(reason.signal) : 'SIGTERM';
      const graceMs = reason instanceof JobAborted ? reason.graceMs : 0;
      if (child.pid === undefined || exit !== undefined) return;
      killGroup(child.pid, signal);
      graceTimer = setTimeout(
        () => {
          if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
        },
        Math.min(graceMs, MAX_DELAY_MS),
      );
    };
    const cleanUp = (): void => {
      clearTimeout(graceTimer);
      clearTimeout(drainTimer);
      ctx.signal.removeEventListener('abort', onAbort);
    };
    stdout.on('data', (chunk: Buffer) => outputs.stdout.push(chunk));
    stderr.on('data', (chunk: Buffer) => outputs.stderr.push(chunk));
    // The command may exit without reading its input; the broken pipe is not a failure.
    stdin.on('error', () => {});
    // Nothing is ever written on the tether, and its end is all it has to report.
    tether.on('error', () => {});
    child.once('error', (error) => {
      if (child.pid !== undefined) return; // a failed kill, not a failed start
      cleanUp();
      stdout.destroy();
      stderr.destroy();
      tether.destroy();
      reject(spawnFailed(command, error));
    });
    child.once('spawn', () => {
      stdin.end(launch.stdin);
    });
    child.once('exit', (exitCode, signal) => {
      exit = { exitCode, signal };
      clearTimeout(graceTimer);
      // Whatever the command left behind in its group dies with it, and so does the tether's
      // watcher; this also closes the pipes the stragglers held, so that 'close' can come.
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      // A process that left the group (setsid) may still hold the pipes: stop reading them.
      drainTimer = setTimeout(() => {
        stdout.destroy();
        stderr.destroy();
        tether.destroy();
      }, PIPE_DRAIN_MS);
    });
    child.once('close', () => {
      cleanUp();
      outputs.stdout.end();
      outputs.stderr.end();
      resolve(exit ?? { exitCode: child.exitCode, signal: child.signalCode });
    });
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
}

function spawnFailed(command: string | string[], error: unknown): InfrastructureError {
  const reason = error instanceof Error ? error.message : String(error);
  return new InfrastructureError(`could not start "${describe(command)}": ${reason}`, {
    code: 'spawn_failed',
    cause: error,
  });
}

async function checkDirectory(cwd: string): Promise<void> {
  let isDirectory = false;
  try {
    isDirectory = (await stat(cwd)).isDirectory();
  } catch (error) {
    throw new InfrastructureError(`cwd ${cwd} is not usable: ${(error as Error).message}`, {
      code: 'spawn_failed',
    });
  }
  if (!isDirectory) {
    throw new InfrastructureError(`cwd ${cwd} is not a directory`, { code: 'spawn_failed' });
  }
}

/** Creates the handler for `shell` jobs. */
export function createShellHandler(options: ShellOptions = {}): Handler {
  const shell = options.shell ?? '/bin/sh';
  return async (ctx) => {
    const payload = parseShellPayload(ctx.payload);
    const cwd = path.resolve(options.defaultCwd ?? process.cwd(), payload.cwd ?? '.');
    await checkDirectory(cwd);
    const launch = await launchOf(ctx, payload, cwd, shell);
    ctx.signal.throwIfAborted();
    const outputs = { stdout: new Output('stdout', ctx), stderr: new Output('stderr', ctx) };
    const exit = await runProcess(ctx, launch, payload.command, outputs);
    const result: ShellResult = {
      exitCode: exit.exitCode,
      signal: exit.signal,
      stdout: outputs.stdout.text(),
      stderr: outputs.stderr.text(),
    };
    options.logger?.debug({ jobId: ctx.id, ...exit }, 'shell command ended');
    if (ctx.signal.aborted) {
      const reason: unknown = ctx.signal.reason;
      const kind = reason instanceof JobAborted ? reason.kind : 'canceled';
      const how =
        exit.signal === null ? `exited with code ${exit.exitCode}` : `killed by ${exit.signal}`;
      const message =
        kind === 'timeout'
          ? `the job timed out after ${ctx.timeoutMs ?? 0} ms; the command was ${how}`
          : `the command was stopped (${kind}) and ${how}`;
      throw new RetryableError(message, { code: kind === 'timeout' ? 'timeout' : kind, result });
    }
    if (exit.exitCode === 0) return result;
    if (exit.exitCode === null) {
      throw new RetryableError(`command was killed by signal ${exit.signal ?? 'unknown'}`, {
        code: 'signal',
        result,
      });
    }
    const last = outputs.stderr.lastLine();
    const message = `command exited with code ${exit.exitCode}${last ? `: ${last}` : ''}`;
    const failure = { code: 'exit_code', result };
    throw payload.noRetryExitCodes?.includes(exit.exitCode)
      ? new PermanentError(message, failure)
      : new RetryableError(message, failure);
  };
}
