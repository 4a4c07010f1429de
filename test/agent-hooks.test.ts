// The hook wiring a launch writes for each agent CLI, as that CLI reads it (contract §21).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hookWiring } from '../lib/domain/agent-hooks.js';

const dir = mkdtempSync(join(tmpdir(), 'maestro-agent-hooks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = ['/usr/bin/node', '/opt/maestro/lib/cli/main.js'];

describe('Gemini CLI: the system settings file a launch points GEMINI_CLI_SYSTEM_SETTINGS_PATH at', () => {
  const adminDir = join(dir, 'etc-gemini-cli');
  const adminSettings = join(adminDir, 'settings.json');
  const auditHook = { matcher: '*', hooks: [{ name: 'audit', type: 'command', command: '/usr/local/bin/audit-notify' }] };
  const sessionDir = join(dir, 'session');

  it("keeps the administrator's own hooks for the events Maestro wires, before Maestro's", () => {
    mkdirSync(adminDir, { recursive: true });
    writeFileSync(adminSettings, JSON.stringify({ hooks: { Notification: [auditHook] }, general: { vimMode: true } }));
    const wiring = hookWiring('gemini', sessionDir, { GEMINI_CLI_SYSTEM_SETTINGS_PATH: adminSettings }, cli);
    const written = JSON.parse(wiring.files[0]!.content);
    expect(written.general).toEqual({ vimMode: true });
    expect(written.hooksConfig).toEqual({ enabled: true });
    expect(written.hooks.Notification).toEqual([
      auditHook,
      {
        hooks: [{ name: 'maestro-Notification', type: 'command', command: `'${cli[0]}' '${cli[1]}' 'hook' 'Notification'`, timeout: 5000 }],
      },
    ]);
    expect(written.hooks.AfterAgent).toHaveLength(1);
  });

  it('still reads the system defaults from where Gemini CLI would have (beside the system settings it replaces)', () => {
    const wiring = hookWiring('gemini', sessionDir, { GEMINI_CLI_SYSTEM_SETTINGS_PATH: adminSettings }, cli);
    expect(wiring.env).toEqual({
      GEMINI_CLI_SYSTEM_SETTINGS_PATH: join(sessionDir, 'gemini-settings.json'),
      GEMINI_CLI_SYSTEM_DEFAULTS_PATH: join(adminDir, 'system-defaults.json'),
    });
    const explicit = hookWiring('gemini', sessionDir, { GEMINI_CLI_SYSTEM_DEFAULTS_PATH: '/srv/gemini/defaults.json' }, cli);
    expect(explicit.env.GEMINI_CLI_SYSTEM_DEFAULTS_PATH).toBe('/srv/gemini/defaults.json');
    if (process.platform === 'linux') {
      expect(hookWiring('gemini', sessionDir, {}, cli).env.GEMINI_CLI_SYSTEM_DEFAULTS_PATH).toBe('/etc/gemini-cli/system-defaults.json');
    }
  });
});
