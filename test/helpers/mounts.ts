/**
 * Real storage faults for tests (root only; CI runs as root): a small tmpfs that a test fills
 * to the last byte or remounts read-only, and an ext4 image whose kernel error handling turns
 * it read-only under open files (`errors=remount-ro`, the way a failing disk goes read-only in
 * production; a tmpfs cannot be remounted read-only while a file on it is open for writing).
 * Always `unmount` in afterAll/afterEach: a mount left behind outlives the test process.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface TestMount {
  /** The mount point: put data directories under it. */
  dir: string;
  /** Writes a filler file until the file system has no space left (ENOSPC). */
  fill(): void;
  /** Removes the filler: the space is back. */
  unfill(): void;
  /** Unmounts (lazily, should something still hold a file) and removes the mount point. */
  unmount(): void;
}

function run(command: string, args: readonly string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function withFiller(dir: string, unmount: () => void): TestMount {
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        // Big chunks, then single bytes, so that not even a page is left over.
        for (const size of [chunk.length, 1]) {
          for (;;) {
            try {
              writeSync(fd, chunk, 0, size);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    unfill() {
      rmSync(filler, { force: true });
    },
    unmount,
  };
}

function removeMount(dir: string): void {
  try {
    run('umount', ['--lazy', dir]);
  } catch {
    // Not mounted (any more).
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A tmpfs of `size` (mount's syntax: `4m`) on a fresh directory. */
export function mountTmpfs(size: string): TestMount & {
  /** `mount -o remount,ro` (refused while a file on it is open for writing) or `rw`. */
  remount(mode: 'ro' | 'rw'): void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-tmpfs-'));
  try {
    run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...withFiller(dir, () => removeMount(dir)),
    remount(mode) {
      run('mount', ['-o', `remount,${mode}`, dir]);
    },
  };
}

/**
 * An ext4 file system of `sizeMiB` in an image file on a loop device, mounted with
 * `errors=remount-ro`. `fail()` reports an error to ext4 (its sysfs `trigger_fs_error`): the
 * kernel aborts the journal and from then on refuses every write with EROFS, open files
 * included, until the file system is unmounted and checked. Unmounting frees the loop device.
 */
export function mountFailingExt4(sizeMiB: number): TestMount & { fail(): void } {
  const home = mkdtempSync(join(tmpdir(), 'switchyard-ext4-'));
  const image = join(home, 'image');
  const dir = join(home, 'mnt');
  const unmount = (): void => {
    removeMount(dir);
    rmSync(home, { recursive: true, force: true });
  };
  try {
    mkdirSync(dir);
    run('truncate', ['-s', `${sizeMiB}M`, image]);
    run('mkfs.ext4', ['-q', '-F', image]);
    run('mount', ['-o', 'loop,errors=remount-ro', image, dir]);
  } catch (error) {
    unmount();
    throw error;
  }
  const device = execFileSync('findmnt', ['-n', '-o', 'SOURCE', dir], { encoding: 'utf8' }).trim();
  return {
    ...withFiller(dir, unmount),
    fail() {
      writeFileSync(`/sys/fs/ext4/${basename(device)}/trigger_fs_error`, 'switchyard test');
    },
  };
}
