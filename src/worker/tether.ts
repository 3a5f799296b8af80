/**
 * The tether: a shell job's process group dies with the agent that started it, even an agent
 * killed with SIGKILL that cannot clean up (POSIX, no root needed). Without it, a killed agent's
 * job runs on beside the broker's re-run of it elsewhere.
 *
 * The job starts through a small `/bin/sh` wrapper, its process-group leader, that gets a socket
 * on fd 3 whose other end the agent holds for the job's life. Before it becomes the job, the
 * wrapper starts a watcher in the same group that blocks reading fd 3. The agent never writes
 * there, so the read returns only at end of file, when the kernel closed the agent's end because
 * the agent died; the watcher then SIGKILLs its group. When the job ends, the agent SIGKILLs the
 * group as it always did, and that ends the watcher too.
 *
 * - The wrapper `exec`s the command: the agent's child is the job itself (same pid, same group),
 *   so its exit code or signal is exact, not a shell's 128+N.
 * - A subshell that exits at once (the wrapper waits for it) starts the watcher, so the job is
 *   not the watcher's parent: a job that waits for all its children (`wait()` until ECHILD)
 *   finds none it did not start.
 * - The watcher ignores the catchable signals the agent stops jobs with (KILL_SIGNALS): it
 *   outlives the kill signal, and still takes the group down if the agent dies in the grace.
 *   The subshell ignores them before it starts the watcher; a signal that comes earlier kills
 *   the wrapper as well, so the job never runs unwatched.
 * - The watcher's standard streams are /dev/null: it holds none of the job's pipes, so output
 *   ends (and the agent's 'close' comes) when the job's own processes are gone. The job does not
 *   get fd 3.
 *
 * Not covered: a process that left the group (`setsid`) or that kills the watcher. The watcher
 * outlives its parent, so init reaps it: an agent that is itself PID 1 with no init would keep a
 * zombie per job (as it does a straggler of any job); run it under one (`docker run --init`).
 *
 * A watcher the agent spawned itself, outside the group, would need no wrapper and leave no
 * zombie, but it is a second fork of the whole agent per job: 3-5 ms of blocked event loop each
 * on a busy 2-core machine, where the wrapper forks a small shell in the child.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { KILL_SIGNALS } from '../protocol/api.js';

/** The wrapper's interpreter: POSIX sh, whatever shell string commands run with. */
export const WRAPPER_SHELL = '/bin/sh';

/** stdin, stdout, stderr and the tether on fd 3 (a socket pair: closing one end is EOF). */
export const TETHERED_STDIO = ['pipe', 'pipe', 'pipe', 'pipe'] as const;

/**
 * What the watcher ignores: the catchable signals jobs are stopped with (which jobs also send
 * their own group: `trap 'kill 0' EXIT`), and SIGPIPE.
 */
const IGNORED = [...KILL_SIGNALS.filter((s) => s !== 'SIGKILL').map((s) => s.slice(3)), 'PIPE'];

const WRAPPER = [
  `(trap '' ${IGNORED.join(' ')}; (read -r _ <&3; kill -s KILL 0) &) </dev/null >/dev/null 2>&1`,
  'exec 3<&-',
  'exec "$@"',
].join('\n');

/**
 * The arguments of `WRAPPER_SHELL` that run `file` with `args` tethered. `file` should come
 * from `findExecutable`: `exec` of a program that is not there is exit code 127, not an error.
 */
export function tetheredArgs(file: string, args: readonly string[]): string[] {
  return ['-c', WRAPPER, 'switchyard-job', file, ...args];
}

/** Where `execvp` looks when there is no PATH (glibc and libuv). */
const DEFAULT_PATH = '/usr/bin:/bin';

async function isExecutableFile(file: string): Promise<'yes' | 'missing' | 'not executable'> {
  try {
    if (!(await stat(file)).isFile()) return 'not executable';
    await access(file, constants.X_OK);
    return 'yes';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'not executable';
  }
}

/**
 * The program that running `file` would execute, as `execvp` finds it: a name with a slash is a
 * path (relative to `cwd`), a bare name is searched on `envPath` (an empty entry is `cwd`). It
 * must be an executable regular file. Throws an Error that says why not.
 *
 * A bare name comes back as the absolute path found, which the program then gets as argv[0] (a
 * shell would pass the bare name; the wrapper cannot). A path comes back as given, so that it
 * resolves against `cwd` in the job as here; `./` keeps a leading `-` from reading as an option.
 * The program could still vanish before the wrapper runs it: then the job exits with 127.
 */
export async function findExecutable(
  file: string,
  cwd: string,
  envPath: string | undefined,
): Promise<string> {
  if (file.includes('/')) {
    const found = await isExecutableFile(path.resolve(cwd, file));
    if (found === 'missing') throw new Error(`${file} does not exist`);
    if (found === 'not executable') throw new Error(`${file} is not an executable file`);
    return file.startsWith('-') ? `./${file}` : file;
  }
  const dirs = (envPath ?? DEFAULT_PATH).split(':');
  let sawOne = false;
  for (const dir of dirs) {
    const candidate = path.resolve(cwd, dir, file);
    const found = await isExecutableFile(candidate);
    if (found === 'yes') return candidate;
    if (found === 'not executable') sawOne = true;
  }
  throw new Error(
    sawOne
      ? `${file} is on PATH but not an executable file`
      : `${file} was not found on PATH (${envPath ?? DEFAULT_PATH})`,
  );
}
