import type { Ctx } from '../../../lib/app.js';
import { eventStream } from '../../../lib/event-stream.js';

export default (c: Ctx) => eventStream(c);
