/**
 * The live view of a job (`submit --wait`, `job ID --follow`), fed by its messages
 * (`Client.watch`): a line on stderr per change of state and per named step, the job's output
 * streamed as it comes (stdout to stdout, stderr to stderr, without its `::progress`, `::step`
 * and `::attr` lines), and its progress as a bar redrawn in place on a terminal (cli-progress),
 * or as plain lines otherwise.
 */
import { MultiBar, type SingleBar } from 'cli-progress';
import type { JobBody, JobMessageBody } from '../protocol/api.js';
import type { Output } from './context.js';

const BAR_FORMAT = '[{bar}] {percentage}% {message}';

/** A change of state in words: `running on w_1 (attempt 1)`, `failed: exit code 3`. */
export function describeState(m: Extract<JobMessageBody, { kind: 'state' }>): string {
  const { to, workerId, error, hold } = m.data;
  switch (to) {
    case 'running':
      return `running${workerId ? ` on ${workerId}` : ''} (attempt ${m.attempt ?? '?'})`;
    case 'held':
      return hold?.reason ? `held (${hold.reason})` : 'held';
    default:
      return error ? `${to}: ${error.message}` : to;
  }
}

/** A directive line of a shell job: shown as progress, steps and attributes, not as output. */
const DIRECTIVE = /^::(progress|step|attr)\s/;

/** Output split into lines, so that directive lines can be left out however it was cut. */
class Lines {
  private partial = '';

  constructor(private readonly write: (text: string) => void) {}

  push(text: string): void {
    const all = this.partial + text;
    const end = all.lastIndexOf('\n');
    if (end < 0) {
      this.partial = all;
      return;
    }
    this.partial = all.slice(end + 1);
    const kept = all
      .slice(0, end + 1)
      .split(/(?<=\n)/)
      .filter((line) => !DIRECTIVE.test(line))
      .join('');
    if (kept !== '') this.write(kept);
  }

  flush(): void {
    if (this.partial !== '' && !DIRECTIVE.test(this.partial)) this.write(this.partial);
    this.partial = '';
  }
}

export interface LiveViewOptions {
  /** Stream the job's output (else only state, steps and progress). */
  output?: boolean;
}

/** Renders one job's messages as they come. */
export class LiveView {
  private readonly bars: MultiBar | null;
  private bar: SingleBar | null = null;
  private percent = 0;
  private readonly stdoutLines: Lines;
  private readonly stderrLines: Lines;
  private lastPlain: string | null = null;

  constructor(
    private readonly stdout: Output,
    private readonly stderr: Output,
    private readonly id: string,
    private readonly options: LiveViewOptions = {},
  ) {
    this.bars =
      stderr.isTTY === true
        ? new MultiBar({
            stream: stderr as unknown as NodeJS.WritableStream,
            format: BAR_FORMAT,
            barsize: 30,
            hideCursor: false,
            clearOnComplete: true,
            stopOnComplete: false,
            autopadding: true,
            fps: 10,
          })
        : null;
    this.stdoutLines = new Lines((text) => this.print(this.stdout, text));
    this.stderrLines = new Lines((text) => this.print(this.stderr, text));
  }

  show(m: JobMessageBody): void {
    switch (m.kind) {
      case 'state':
        this.line(`job ${this.id}: ${describeState(m)}`);
        if (m.data.to !== 'running') this.dropBar();
        return;
      case 'progress': {
        const { percent, message, step } = m.data;
        if (step !== undefined) {
          this.line(
            `job ${this.id}: step ${step.id} ${step.status}${message ? ` (${message})` : ''}`,
          );
          return;
        }
        this.progress(percent, message);
        return;
      }
      case 'attribute':
        return;
      case 'log':
        if (this.options.output === false) return;
        (m.data.stream === 'stderr' ? this.stderrLines : this.stdoutLines).push(m.data.text);
        return;
    }
  }

  /** Ends the view: the last partial lines of output written, the bar removed. */
  finish(): void {
    this.stdoutLines.flush();
    this.stderrLines.flush();
    this.dropBar();
    this.bars?.stop();
  }

  private progress(percent: number | null, message: string | null): void {
    if (percent !== null) this.percent = Math.max(0, Math.min(100, percent));
    if (this.bars === null) {
      const text = [percent === null ? '' : `${Math.round(this.percent)}%`, message ?? '']
        .filter(Boolean)
        .join(' ');
      if (text === this.lastPlain) return;
      this.lastPlain = text;
      this.stderr.write(`job ${this.id}: ${text}\n`);
      return;
    }
    const payload = { message: message ?? '' };
    if (this.bar === null) this.bar = this.bars.create(100, this.percent, payload);
    else this.bar.update(this.percent, payload);
    // Drawn now, not at the next tick of its timer: a fast job's bar is seen too.
    this.bars.update();
  }

  /** A line on stderr, above the bar when one is shown. */
  private line(text: string): void {
    if (this.bars !== null && this.bar !== null) this.bars.log(`${text}\n`);
    else this.stderr.write(`${text}\n`);
  }

  /** Output, above the bar when it goes to the terminal the bar is on. */
  private print(out: Output, text: string): void {
    if (this.bars !== null && this.bar !== null && out.isTTY === true) {
      this.bars.log(text.endsWith('\n') ? text : `${text}\n`);
    } else {
      out.write(text);
    }
  }

  private dropBar(): void {
    if (this.bar === null || this.bars === null) return;
    this.bars.remove(this.bar);
    this.bar = null;
    this.lastPlain = null;
  }
}

/** What followJob needs of a client (the SDK's Client). */
interface Follower {
  watch(id: string): AsyncIterable<JobMessageBody>;
  get(id: string): Promise<JobBody>;
}

/** Shows a job's messages live until it ends; resolves with the job as it ended. */
export async function followJob(
  client: Follower,
  id: string,
  out: { stdout: Output; stderr: Output },
  options: LiveViewOptions = {},
): Promise<JobBody> {
  const view = new LiveView(out.stdout, out.stderr, id, options);
  try {
    for await (const m of client.watch(id)) view.show(m);
  } finally {
    view.finish();
  }
  return client.get(id);
}
