/**
 * The Store contract suite: what every Store implementation must do, proven against a fresh
 * store per test. Each backend's test file calls `describeStoreContract` with a factory. Nothing
 * here may depend on one backend; where backends legitimately differ, a test reads
 * `store.capabilities` and skips, it never forks. The suite is split by domain under contract/.
 */
import { describe } from 'vitest';
import { describeAdopt } from './contract/adopt.js';
import { describeStateChanges } from './contract/state.js';
import { describeText } from './contract/text.js';
import { describeClaim } from './contract/claim.js';
import { describeDependencies } from './contract/dependencies.js';
import { describeCluster } from './contract/cluster.js';
import { describeEndAttempts } from './contract/end.js';
import type { StoreFactory } from './contract/helpers.js';
import { describeInsert, describeTransactions } from './contract/insert.js';
import { describeLifecycle } from './contract/lifecycle.js';
import { describeList } from './contract/list.js';
import { describeOutbox } from './contract/outbox.js';
import { describePromote } from './contract/promote.js';
import { describeRegistry } from './contract/registry.js';
import { describeSelect } from './contract/select.js';
import { describeUniqueness } from './contract/unique.js';
import { describeReports } from './contract/reports.js';
import { describeMessages } from './contract/messages.js';
import { describeSchedules } from './contract/schedules.js';
import { describeWorkerControl } from './contract/worker-control.js';
import { describeQueues } from './contract/queues.js';

export type { StoreFactory } from './contract/helpers.js';

/** Registers the whole contract suite for one Store implementation. */
export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    describeTransactions(factory);
    describeInsert(factory);
    describeClaim(factory);
    describeEndAttempts(factory);
    describeAdopt(factory);
    describeStateChanges(factory);
    describeLifecycle(factory);
    describeDependencies(factory);
    describeUniqueness(factory);
    describeText(factory);
    describePromote(factory);
    describeReports(factory);
    describeMessages(factory);
    describeList(factory);
    describeSelect(factory);
    describeRegistry(factory);
    describeCluster(factory);
    describeOutbox(factory);
    describeSchedules(factory);
    describeWorkerControl(factory);
    describeQueues(factory);
  });
}
