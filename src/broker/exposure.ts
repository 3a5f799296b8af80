/**
 * Loopback by default with no auth; a port bound beyond loopback must have tokens. This check
 * refuses to start a broker that would expose an open API or worker endpoint to the network.
 */
import type { BrokerConfig } from '../config/types.js';

export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return a === 'localhost' || a === '::1' || a === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

export function exposureProblems(config: BrokerConfig): string[] {
  const problems: string[] = [];
  const { auth } = config;
  if (
    !isLoopback(config.clients.address) &&
    auth.clientTokens.length + auth.adminTokens.length === 0
  ) {
    problems.push(
      `clients.address is ${config.clients.address}, beyond loopback, but no client tokens are set: ` +
        'set auth.client_tokens (and auth.admin_tokens) in the config file or SWITCHYARD_CLIENT_TOKENS, ' +
        'or bind to 127.0.0.1',
    );
  }
  if (!isLoopback(config.workers.address) && auth.workerTokens.length === 0) {
    problems.push(
      `workers.address is ${config.workers.address}, beyond loopback, but no worker tokens are set: ` +
        'set auth.worker_tokens in the config file or SWITCHYARD_WORKER_TOKENS, or bind to 127.0.0.1',
    );
  }
  return problems;
}
