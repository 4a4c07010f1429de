import type { Ctx } from '../../../../../lib/app.js';

export default (c: Ctx) => {
  const { queue, stats } = c.var.services.queues.read(c.req.param('id')!);
  return c.json({ items: queue.items, stats });
};
