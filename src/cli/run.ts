/**
 * The `switchyard` command's one top-level catch: parse, run the command, and turn whatever it
 * threw into an exit status and a `switchyard: <message>` line (see ./errors.ts for the table).
 */
import { processContext, type CliContext } from './context.js';
import { describeFailure, EXIT } from './errors.js';
import { buildProgram } from './program.js';

/** Runs the command line `argv` (without node and the script) and resolves with its exit status. */
export async function run(
  argv: readonly string[],
  ctx: CliContext = processContext(),
): Promise<number> {
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    const { status, message, detail } = describeFailure(err);
    if (message !== null) {
      for (const line of message.split('\n')) ctx.stderr.write(`switchyard: ${line}\n`);
    }
    if (detail !== undefined) ctx.stderr.write(`${detail}\n`);
    return status;
  }
}
