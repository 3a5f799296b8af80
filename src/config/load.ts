/**
 * The configuration loader: a YAML file (all fields optional), `SWITCHYARD_*` environment
 * variables and command-line flags, merged over `brokerDefaults` into one validated BrokerConfig.
 *
 * Pipeline: parse the file → normalise it into a layer of field settings (unknown keys are
 * problems) → the environment's layer → the flags' layer → resolve each field from the last
 * layer that sets it, validating as it goes → cross-field checks and the exposure rule. Every
 * problem is collected, so one run shows them all. Reads the file once, when called.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { checkExposure } from './exposure.js';
import {
  fieldByKey,
  fields,
  ignoredKeys,
  otherEnvVars,
  sections,
  type ConfigFlags,
  type Field,
} from './fields.js';
import { brokerDefaults, type BrokerConfig } from './types.js';
import { redactUrl, show } from './values.js';

export { checkExposure, isLoopback } from './exposure.js';
export type { ConfigFlags } from './fields.js';

/** The configuration is not usable; `problems` lists every reason, each naming its field. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Where the loader reads from. */
export interface LoadOptions {
  /** The YAML file; defaults to `SWITCHYARD_CONFIG`; none means defaults + env + flags. */
  file?: string;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  flags?: ConfigFlags;
}

/** A resolved config, and what was accepted but looks wrong. */
export interface LoadedConfig {
  config: BrokerConfig;
  warnings: string[];
}

/** A value a layer gives a field, and where it came from (for messages). */
interface Setting {
  value: unknown;
  origin: string;
}
type Layer = Map<Field, Setting>;

/** Tokens shorter than this are accepted with a warning. */
const SHORT_TOKEN = 16;

/**
 * Loads, merges and validates the broker's configuration (file < env < flags).
 * @throws ConfigError listing every problem found.
 */
export function loadBrokerConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const warnings: string[] = [];
  const layers: Layer[] = [];
  const file = options.file ?? nonEmpty(env.SWITCHYARD_CONFIG);
  if (file !== undefined) {
    const text = readConfigFile(file, problems);
    if (text !== null) layers.push(parseConfigText(text, file, problems, warnings));
  }
  layers.push(envLayer(env, warnings), flagLayer(options.flags ?? {}));
  const config = resolve(layers, problems);
  if (problems.length === 0) problems.push(...crossCheck(config), ...checkExposure(config));
  if (problems.length > 0) throw new ConfigError(problems);
  warnings.push(...tokenWarnings(config));
  return { config, warnings };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function readConfigFile(file: string, problems: string[]): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : err;
    problems.push(`cannot read config file ${file}: ${String(why)}`);
    return null;
  }
}

/** Parses and normalises one YAML document into a layer. */
function parseConfigText(
  text: string,
  source: string,
  problems: string[],
  warnings: string[],
): Layer {
  const layer: Layer = new Map();
  const doc = parseDocument(text, { uniqueKeys: true });
  for (const e of doc.errors) problems.push(`${source}: ${firstLine(e.message)}`);
  for (const w of doc.warnings) warnings.push(`${source}: ${firstLine(w.message)}`);
  if (doc.errors.length > 0) return layer;
  const root: unknown = doc.toJS();
  if (root === null || root === undefined) return layer;
  if (!isMapping(root)) {
    problems.push(`${source}: must be a mapping of settings, got ${show(root)}`);
    return layer;
  }
  const origin = `in ${source}`;
  const spelling = new Map<Field, string>();
  const put = (key: string, value: unknown, siblings: readonly string[]): void => {
    const field = siblings.includes(key) ? fieldByKey(key) : undefined;
    const first = field && spelling.get(field);
    if (field === undefined) {
      problems.push(unknownKey(key, siblings, origin));
    } else if (first !== undefined) {
      problems.push(`${field.key}: given twice, as "${first}" and "${key}" (${origin})`);
    } else {
      spelling.set(field, key);
      if (value !== null) layer.set(field, { value, origin });
    }
  };
  for (const [key, value] of Object.entries(root)) {
    if (Object.hasOwn(ignoredKeys, key)) {
      warnings.push(`"${key}" is ignored: ${ignoredKeys[key]} (${origin})`);
    } else if (sections.has(key)) {
      if (value === null) continue;
      if (!isMapping(value)) {
        problems.push(`${key}: must be a mapping of settings, got ${show(value)} (${origin})`);
        continue;
      }
      const siblings = keysUnder(key);
      for (const [sub, v] of Object.entries(value)) put(`${key}.${sub}`, v, siblings);
    } else {
      put(key, value, topLevelKeys());
    }
  }
  return layer;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:$/, '');
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function keysUnder(section: string): string[] {
  return fields
    .flatMap((f) => [f.key, ...(f.aliases ?? [])])
    .filter((k) => k.startsWith(`${section}.`));
}

function topLevelKeys(): string[] {
  const top = fields.filter((f) => !f.key.includes('.')).map((f) => f.key);
  return [...top, ...sections, ...Object.keys(ignoredKeys)];
}

function unknownKey(key: string, candidates: readonly string[], origin: string): string {
  const guess = closest(key, candidates);
  return `unknown key "${key}" (${origin})${guess ? `; did you mean "${guess}"?` : ''}`;
}

/** The candidate a typo most likely meant: same letters ignoring case and separators, or ≤ 2 edits. */
export function closest(word: string, candidates: readonly string[]): string | null {
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | null = null;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = squash(c) === squash(word) ? 0 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

function envLayer(env: NodeJS.ProcessEnv, warnings: string[]): Layer {
  const layer: Layer = new Map();
  const known = new Set<string>(otherEnvVars);
  for (const field of fields) {
    if (field.env === undefined) continue;
    known.add(field.env);
    const value = env[field.env];
    if (value !== undefined && value.trim() !== '') {
      layer.set(field, { value, origin: `from ${field.env}` });
    }
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('SWITCHYARD_') && !known.has(name)) {
      const guess = closest(name, [...known]);
      warnings.push(
        `environment variable ${name} is not a Switchyard setting and is ignored` +
          (guess ? `; did you mean ${guess}?` : ''),
      );
    }
  }
  return layer;
}

function flagLayer(flags: ConfigFlags): Layer {
  const layer: Layer = new Map();
  for (const field of fields) {
    if (field.flag === undefined) continue;
    const value = flags[field.flag];
    if (value !== undefined) {
      const flag = field.flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      layer.set(field, { value, origin: `from --${flag}` });
    }
  }
  return layer;
}

function resolve(layers: readonly Layer[], problems: string[]): BrokerConfig {
  const config = structuredClone(brokerDefaults);
  for (const field of fields) {
    let setting: Setting | undefined;
    for (const layer of layers) setting = layer.get(field) ?? setting;
    if (setting === undefined) continue;
    const problem = field.apply(config, setting.value);
    if (problem !== null) {
      const got =
        field.secret === true
          ? ''
          : `, got ${typeof setting.value === 'string' ? show(redactUrl(setting.value)) : show(setting.value)}`;
      problems.push(`${field.key}: ${problem}${got} (${setting.origin})`);
    }
  }
  return config;
}

function crossCheck(config: BrokerConfig): string[] {
  const problems: string[] = [];
  if (config.retry.maxMs < config.retry.baseMs) {
    problems.push(
      `retry.max: must be at least retry.base (${config.retry.baseMs} ms), got ${config.retry.maxMs}`,
    );
  }
  const n = config.notifier;
  if (n.retryMaxMs < n.retryBaseMs) {
    problems.push(
      `notifier.retry_max: must be at least notifier.retry_base (${n.retryBaseMs} ms), got ${n.retryMaxMs}`,
    );
  }
  if (n.url === null && (n.port !== null || n.username !== null || n.password !== null)) {
    problems.push('notifier.address: must be set when notifier.port, username or password is');
  }
  if ((n.username === null) !== (n.password === null)) {
    problems.push('notifier.password: username and password go together; set both or neither');
  }
  if (config.clients.port !== 0 && config.clients.port === config.workers.port) {
    problems.push(`workers.port: must differ from clients.port, both are ${config.clients.port}`);
  }
  return problems;
}

function tokenWarnings(config: BrokerConfig): string[] {
  const lists = [
    ['auth.client_tokens', config.auth.clientTokens],
    ['auth.worker_tokens', config.auth.workerTokens],
    ['auth.admin_tokens', config.auth.adminTokens],
  ] as const;
  const warnings: string[] = [];
  for (const [key, list] of lists) {
    list.forEach((token, i) => {
      if (token.length < SHORT_TOKEN) {
        warnings.push(
          `${key}: token ${i + 1} is shorter than ${SHORT_TOKEN} characters and easy to guess`,
        );
      }
    });
  }
  return warnings;
}
