/**
 * W5 durability cost: W1 runs every system with its durable setting as shipped; this workload
 * states what an enqueue acknowledgment (Switchyard's 201) promises on this machine for each
 * system, asking the servers for their settings, so that no figure compares a durable system
 * with a non-durable one silently.
 */
import type { Workload } from './types.js';

export const w5: Workload = {
  id: 'w5',
  title: 'W5 durability: what an acknowledgment promises',
  metrics: [],
  timeoutMs: () => 20_000,
  async run(ctx) {
    const promise = await ctx.adapter.durability(ctx.env);
    ctx.texts['w5.promise'] = promise;
    ctx.texts['w5.durable'] = /NOT /.test(promise) ? 'no' : 'yes';
  },
};
