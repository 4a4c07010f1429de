import type { WSContext } from 'hono/ws';
import { describe, expect, it } from 'vitest';
import type { RunnerHub } from '../lib/hosts/hub.js';
import { TerminalViewers } from '../lib/hosts/terminal-viewers.js';
import { KeyBatcher } from '../lib/runner/key-batcher.js';

/* Terminal viewers (issue 21 item 15): a viewer far behind is cut off; keys are typed once per tick. */

function fakeViewer() {
  const raw = { bufferedAmount: 0, terminated: false, terminate: () => void (raw.terminated = true) };
  const sent: Buffer[] = [];
  const ws = { raw, readyState: 1, send: (data: Buffer) => void sent.push(data), close: () => {} } as unknown as WSContext;
  return { ws, raw, sent };
}

describe('terminal viewers', () => {
  it('cut off a viewer over 8 MiB behind, and tell the runner to stop streaming once nobody watches', () => {
    const toRunner: unknown[] = [];
    const viewers = new TerminalViewers({ send: (_host: string, m: unknown) => void toRunner.push(m) } as unknown as RunnerHub);
    const [slow, fast] = [fakeViewer(), fakeViewer()];
    const events = [viewers.socket('sess_1', 'alpha'), viewers.socket('sess_1', 'alpha')];
    events[0]!.onOpen!(new Event('open'), slow.ws);
    events[1]!.onOpen!(new Event('open'), fast.ws);
    const chunk = (screen: boolean) =>
      ({ type: 'output', sessionId: 'sess_1', data: Buffer.from('x').toString('base64'), screen }) as never;
    viewers.output(chunk(true));
    slow.raw.bufferedAmount = 8 * 1024 * 1024 + 1; // it stopped reading
    viewers.output(chunk(false));
    expect(slow.raw.terminated).toBe(true);
    expect(fast.raw.terminated).toBe(false);
    viewers.output(chunk(false));
    expect([slow.sent.length, fast.sent.length]).toEqual([2, 3]);
    expect(viewers.watched()).toEqual(['sess_1']);
    fast.raw.bufferedAmount = 9 * 1024 * 1024;
    viewers.output(chunk(false));
    expect(viewers.watched()).toEqual([]);
    expect(toRunner.at(-1)).toEqual({ type: 'watch', sessionId: 'sess_1', on: false });
  });

  it("type a tick's keys with one tmux call per session, in order", async () => {
    const calls: [string, string][] = [];
    const keys = new KeyBatcher(async (id, data) => void calls.push([id, data]));
    for (const ch of 'hello world') keys.add('sess_a', ch);
    keys.add('sess_b', 'ls\r');
    await keys.settled();
    keys.add('sess_a', '!');
    await keys.settled();
    expect(calls).toEqual([
      ['sess_a', 'hello world'],
      ['sess_b', 'ls\r'],
      ['sess_a', '!'],
    ]);
  });
});
