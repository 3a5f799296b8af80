/** Command-line options of `npm run bench -- ...`. */
import type { Params } from './workloads/types.js';

export interface Options {
  quick: boolean;
  large: boolean;
  only: string[] | null;
  systems: string[] | null;
  runs: number;
  cpuProf: boolean;
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]
  --quick              short smoke run (small N, 1 run; W1-W5 under ~90 s, W6-W7
                       about 90 s more)
  --large              W1 with 100,000 jobs instead of 20,000
  --only <w1,w2,...>   workloads to run (w1 throughput, w2 latency, w3 deep queue,
                       w4 many workers, w5 durability statement, w6 retry of
                       100,000 failed jobs, w7 submission with uniqueness keys)
  --systems <a,b,...>  systems to run (switchyard, switchyard-pg, switchyard-pg-2,
                       bullmq, graphile-worker, pg-boss)
  --runs N             runs per figure, the median is reported (default 3; quick 1)
  --cpu-prof           run Switchyard brokers under node --cpu-prof
                       (profiles in bench/results/profiles/)
  -h, --help           this help
Environment: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test),
  BENCH_REDIS_PORT (6379), BENCH_TIMEOUT_MS (override every per-workload timeout)`;

function list(value: string | undefined, flag: string): string[] {
  if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value`);
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function parseOptions(argv: readonly string[]): Options {
  const o: Options = {
    quick: false,
    large: false,
    only: null,
    systems: null,
    runs: 0,
    cpuProf: false,
    help: false,
  };
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k]!;
    const [flag, inline] = arg.includes('=') ? arg.split('=', 2) : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++k];
    switch (flag) {
      case '--quick':
        o.quick = true;
        break;
      case '--large':
        o.large = true;
        break;
      case '--only':
        o.only = list(value(), flag);
        break;
      case '--systems':
        o.systems = list(value(), flag);
        break;
      case '--runs': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) throw new Error('--runs needs a whole number ≥ 1');
        o.runs = n;
        break;
      }
      case '--cpu-prof':
        o.cpuProf = true;
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  if (o.runs === 0) o.runs = o.quick ? 1 : 3;
  return o;
}

export function paramsFor(o: Options): Params {
  if (o.quick) {
    return {
      quick: true,
      w1Jobs: 2_000,
      submitters: 32,
      w2Jobs: 100,
      w2BudgetMs: 5_000,
      w3Depth: 20_000,
      w3Head: 2_000,
      w4Workers: 100,
      w4Processes: 2,
      w4Jobs: 2_000,
      w4IdleMs: 3_000,
      w6Jobs: 10_000,
      w6Probes: 100,
      w7Jobs: 2_000,
    };
  }
  return {
    quick: false,
    w1Jobs: o.large ? 100_000 : 20_000,
    submitters: 32,
    w2Jobs: 1_000,
    w2BudgetMs: 60_000,
    w3Depth: 1_000_000,
    w3Head: 10_000,
    w4Workers: 1_000,
    w4Processes: 4,
    w4Jobs: 20_000,
    w4IdleMs: 10_000,
    w6Jobs: 100_000,
    w6Probes: 1_000,
    w7Jobs: 20_000,
  };
}
