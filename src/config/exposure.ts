/**
 * The exposure rule: a port bound to a non-loopback address must require tokens, so that a
 * broker is never reachable from the network without authentication by accident. Pure.
 */
import { BlockList, isIP } from 'node:net';
import type { BrokerConfig } from './types.js';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** Whether an address only reaches this machine: 127.0.0.0/8, ::1 or `localhost`. */
export function isLoopback(address: string): boolean {
  const a = address.trim().toLowerCase();
  if (a === 'localhost') return true;
  const family = isIP(a);
  if (family === 4) return loopback.check(a, 'ipv4');
  if (family === 6) return loopback.check(a, 'ipv6');
  return false;
}

/**
 * The problems of a config that exposes a port without tokens: the clients port bound to a
 * non-loopback address needs client or admin tokens; the workers port needs worker tokens.
 * Each message says how to set them (config key and environment variable).
 */
export function checkExposure(config: BrokerConfig): string[] {
  const problems: string[] = [];
  const { clients, workers, auth } = config;
  if (
    !isLoopback(clients.address) &&
    auth.clientTokens.length === 0 &&
    auth.adminTokens.length === 0
  ) {
    problems.push(
      `clients.address: "${clients.address}" is not a loopback address, so the client API ` +
        'would be open to the network without authentication; set auth.client_tokens or ' +
        'auth.admin_tokens (env SWITCHYARD_CLIENT_TOKENS or SWITCHYARD_ADMIN_TOKENS, ' +
        'comma-separated), or bind to 127.0.0.1',
    );
  }
  if (!isLoopback(workers.address) && auth.workerTokens.length === 0) {
    problems.push(
      `workers.address: "${workers.address}" is not a loopback address, so any machine could ` +
        'connect as a worker and receive jobs; set auth.worker_tokens ' +
        '(env SWITCHYARD_WORKER_TOKENS, comma-separated), or bind to 127.0.0.1',
    );
  }
  return problems;
}

/**
 * The host name of a `Host` header (`name`, `name:port`, `[v6]:port`), lower-cased; null when
 * it is not one.
 */
export function hostOf(header: string): string | null {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return null;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
    return h.slice(1, end);
  }
  const colon = h.indexOf(':');
  if (colon >= 0) {
    if (h.indexOf(':', colon + 1) >= 0) return null;
    if (!/^:\d{1,5}$/.test(h.slice(colon))) return null;
    return h.slice(0, colon);
  }
  return h;
}

/**
 * Whether a request's `Host` names this machine's loopback (localhost, `*.localhost`, 127/8,
 * ::1) or one of the hosts the config allows. Without tokens, only such requests are served:
 * a web page whose name was made to resolve to 127.0.0.1 (DNS rebinding) sends its own name
 * as the Host, and is refused. A request without a Host (HTTP/1.0, not a browser) passes.
 */
export function hostAllowed(header: string | undefined, allowed: readonly string[]): boolean {
  if (header === undefined) return true;
  const host = hostOf(header);
  if (host === null) return false;
  if (host === 'localhost' || host.endsWith('.localhost') || isLoopback(host)) return true;
  return allowed.some((a) => a.toLowerCase() === host);
}
