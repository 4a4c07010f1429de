import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectError } from './assertions.js';
import { type Call, inProcess, tempDir } from './helpers.js';

/** Skills (contract §3.7, §7): read from SKILLS_DIR/<id>/manifest.json + skill.md, cached, refreshed by reload. */

/** Writes a skill directory: `manifest` as JSON (or raw text when a string), `skill.md` when given. */
function writeSkill(root: string, id: string, manifest: unknown, instructions?: string) {
  const dir = join(root, id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest, null, 2));
  if (instructions !== undefined) writeFileSync(join(dir, 'skill.md'), instructions);
}

const ALPHA = { name: 'Alpha Skill', version: '2.3.4', type: 'role', description: 'Does alpha things', assignTo: ['worker'] };
const ALPHA_MD = '# Alpha\n\nStep one, then step two.\n';

let call: Call;
let skillsDir: string;
/** A directory next to SKILLS_DIR that no request may reach. */
let outsideDir: string;

beforeEach(async () => {
  const base = tempDir('maestro-skills-');
  skillsDir = join(base, 'skills');
  outsideDir = join(base, 'outside');
  mkdirSync(skillsDir);
  writeSkill(outsideDir, 'secret', { name: 'Secret', description: 'must never be served' }, 'TOP SECRET INSTRUCTIONS');
  writeFileSync(join(base, 'manifest.json'), JSON.stringify({ name: 'Parent of SKILLS_DIR' }));

  writeSkill(skillsDir, 'alpha', ALPHA, ALPHA_MD);
  writeSkill(skillsDir, 'zulu', { name: 'Zulu', version: '0.1.0', type: 'system', description: 'Last one' }, 'zulu md');
  writeSkill(skillsDir, 'no-instructions', { name: 'No Instructions', version: '1.2.0', type: 'custom', description: 'No skill.md' });
  writeSkill(skillsDir, 'bare', {}, 'bare md');
  writeSkill(skillsDir, 'broken', '{ "name": "Broken", ', 'never served');
  mkdirSync(join(skillsDir, 'not-a-skill'));
  writeFileSync(join(skillsDir, 'not-a-skill', 'skill.md'), 'a skill.md alone does not make a skill');
  writeFileSync(join(skillsDir, 'loose-file'), '{"name":"A file, not a directory"}');
  writeFileSync(join(skillsDir, 'file.json'), '{"name":"A file, not a directory"}');

  ({ call } = await inProcess({ SKILLS_DIR: skillsDir }));
});

const summaries = {
  alpha: { id: 'alpha', name: 'Alpha Skill', description: 'Does alpha things', type: 'role', version: '2.3.4' },
  bare: { id: 'bare', name: 'bare', description: '', type: 'system', version: '1.0.0' },
  noInstructions: { id: 'no-instructions', name: 'No Instructions', description: 'No skill.md', type: 'custom', version: '1.2.0' },
  zulu: { id: 'zulu', name: 'Zulu', description: 'Last one', type: 'system', version: '0.1.0' },
};

describe('GET /api/skills', () => {
  it('lists the loadable skills sorted by id, as summaries, skipping broken ones, bare directories and files', async () => {
    const res = await call('GET', '/api/skills');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual([summaries.alpha, summaries.bare, summaries.noInstructions, summaries.zulu]);
  });

  it('answers [] when SKILLS_DIR does not exist', async () => {
    const { call: callMissing } = await inProcess({ SKILLS_DIR: join(tempDir(), 'does-not-exist') });
    const res = await callMissing('GET', '/api/skills');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it('answers [] when SKILLS_DIR is a file', async () => {
    const { call: callFile } = await inProcess({ SKILLS_DIR: join(skillsDir, 'loose-file') });
    const res = await callFile('GET', '/api/skills');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it('answers [] for an empty SKILLS_DIR', async () => {
    const { call: callEmpty } = await inProcess({ SKILLS_DIR: tempDir() });
    expect(await callEmpty('GET', '/api/skills')).toMatchObject({ status: 200, body: [] });
  });

  it('falls back field by field when a manifest field has the wrong type or is empty', async () => {
    writeSkill(skillsDir, 'odd', { name: 42, version: ['1'], type: '', description: null, assignTo: 'worker' }, 'odd md');
    const res = await call('GET', '/api/skills');
    expect(res.status).toBe(200);
    expect(res.body.find((s: { id: string }) => s.id === 'odd')).toEqual({
      id: 'odd',
      name: 'odd',
      description: '',
      type: 'system',
      version: '1.0.0',
    });
  });

  it('skips a manifest whose JSON is null', async () => {
    writeSkill(skillsDir, 'null-manifest', 'null');
    const res = await call('GET', '/api/skills');
    expect(res.status).toBe(200);
    expect(res.body.map((s: { id: string }) => s.id)).toEqual(['alpha', 'bare', 'no-instructions', 'zulu']);
    expectError(await call('GET', '/api/skills/null-manifest'), 404, 'NOT_FOUND', 'Skill not found: null-manifest');
  });
});

describe('GET /api/skills/:id', () => {
  it('answers the summary plus the skill.md instructions', async () => {
    const res = await call('GET', '/api/skills/alpha');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...summaries.alpha, instructions: ALPHA_MD });
  });

  it('gives instructions "" when skill.md is missing', async () => {
    const res = await call('GET', '/api/skills/no-instructions');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...summaries.noInstructions, instructions: '' });
  });

  it('fills an incomplete manifest with id, "1.0.0", "system" and ""', async () => {
    const res = await call('GET', '/api/skills/bare');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...summaries.bare, instructions: 'bare md' });
  });

  it.each([
    ['an unknown id', 'nope'],
    ['a skill with invalid JSON', 'broken'],
    ['a directory without manifest.json', 'not-a-skill'],
    ['a file in SKILLS_DIR', 'loose-file'],
  ])('answers 404 NOT_FOUND for %s', async (_what, id) => {
    expectError(await call('GET', `/api/skills/${id}`), 404, 'NOT_FOUND', `Skill not found: ${id}`);
  });

  it.each(['..%2Foutside%2Fsecret', '%2E%2E%2Foutside%2Fsecret', '..%5Coutside%5Csecret', '..', '%2E%2E', '%2E'])(
    'answers 404 for the traversal-looking id %s and serves nothing from outside SKILLS_DIR',
    async (id) => {
      for (const res of [await call('GET', `/api/skills/${id}`), await call('POST', `/api/skills/${id}/reload`)]) {
        expectError(res, 404, 'NOT_FOUND');
        expect(JSON.stringify(res.body)).not.toMatch(/TOP SECRET|must never be served|Parent of SKILLS_DIR/);
      }
      const list = await call('GET', '/api/skills');
      expect(JSON.stringify(list.body)).not.toMatch(/Secret|Parent of SKILLS_DIR/);
    },
  );
});

describe('GET /api/skills/role/:role', () => {
  beforeEach(() => {
    writeSkill(skillsDir, 'maestro-cli', { name: 'maestro-cli-skill', version: '1.1.0', type: 'system', description: 'CLI usage' }, 'cli');
    writeSkill(skillsDir, 'maestro-worker', { name: 'maestro-worker-skill', version: '1.2.0', type: 'role', description: 'Worker' }, 'w');
  });

  it('answers maestro-cli and maestro-worker for worker, with the manifest name as id', async () => {
    const res = await call('GET', '/api/skills/role/worker');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { id: 'maestro-cli-skill', name: 'maestro-cli-skill', description: 'CLI usage', type: 'system', version: '1.1.0' },
      { id: 'maestro-worker-skill', name: 'maestro-worker-skill', description: 'Worker', type: 'role', version: '1.2.0' },
    ]);
  });

  it('answers only the present ones: maestro-cli for orchestrator while maestro-orchestrator is absent', async () => {
    const res = await call('GET', '/api/skills/role/orchestrator');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { id: 'maestro-cli-skill', name: 'maestro-cli-skill', description: 'CLI usage', type: 'system', version: '1.1.0' },
    ]);
  });

  it('includes maestro-orchestrator once it exists, and uses the directory name when the manifest has no name', async () => {
    writeSkill(skillsDir, 'maestro-orchestrator', { description: 'Orchestrates' });
    const res = await call('GET', '/api/skills/role/orchestrator');
    expect(res.status).toBe(200);
    expect(res.body.map((s: { id: string }) => s.id)).toEqual(['maestro-cli-skill', 'maestro-orchestrator']);
    expect(res.body[1]).toEqual({
      id: 'maestro-orchestrator',
      name: 'maestro-orchestrator',
      description: 'Orchestrates',
      type: 'system',
      version: '1.0.0',
    });
  });

  it('answers [] when none of the role skills exist', async () => {
    const { call: callEmpty } = await inProcess({ SKILLS_DIR: tempDir() });
    expect(await callEmpty('GET', '/api/skills/role/worker')).toMatchObject({ status: 200, body: [] });
  });

  it('is not captured by GET /api/skills/:id', async () => {
    writeSkill(skillsDir, 'role', { name: 'A skill called role' });
    const res = await call('GET', '/api/skills/role/worker');
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
  });

  it.each(['admin', 'Worker', 'workers', '%20worker'])('refuses the role %s with 400 VALIDATION_ERROR', async (role) => {
    const res = await call('GET', `/api/skills/role/${role}`);
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(res.body.details.issues).toEqual(expect.arrayContaining([{ path: expect.any(String), message: expect.any(String) }]));
  });
});

describe('caching and POST /api/skills/:id/reload', () => {
  /** Rewrites alpha on disk: new manifest and new instructions. */
  function changeAlphaOnDisk() {
    writeSkill(skillsDir, 'alpha', { ...ALPHA, name: 'Alpha Two', version: '3.0.0', description: 'Changed' }, '# Alpha v2\n');
  }
  const alphaTwo = { id: 'alpha', name: 'Alpha Two', description: 'Changed', type: 'role', version: '3.0.0' };

  it('keeps serving the cached copy after the files change, until reload', async () => {
    expect((await call('GET', '/api/skills/alpha')).body).toEqual({ ...summaries.alpha, instructions: ALPHA_MD });
    changeAlphaOnDisk();

    expect((await call('GET', '/api/skills/alpha')).body).toEqual({ ...summaries.alpha, instructions: ALPHA_MD });
    expect((await call('GET', '/api/skills')).body[0]).toEqual(summaries.alpha);

    const reload = await call('POST', '/api/skills/alpha/reload');
    expect(reload.status).toBe(200);
    expect(reload.body).toEqual({ ...alphaTwo, reloaded: true });

    expect((await call('GET', '/api/skills/alpha')).body).toEqual({ ...alphaTwo, instructions: '# Alpha v2\n' });
    expect((await call('GET', '/api/skills')).body[0]).toEqual(alphaTwo);
  });

  it('caches skills first loaded by the list, too', async () => {
    await call('GET', '/api/skills');
    changeAlphaOnDisk();
    expect((await call('GET', '/api/skills/alpha')).body).toEqual({ ...summaries.alpha, instructions: ALPHA_MD });
    await call('POST', '/api/skills/alpha/reload');
    expect((await call('GET', '/api/skills/alpha')).body).toEqual({ ...alphaTwo, instructions: '# Alpha v2\n' });
  });

  it('reloads only the named skill', async () => {
    await call('GET', '/api/skills');
    changeAlphaOnDisk();
    writeSkill(skillsDir, 'zulu', { name: 'Zulu Two' }, 'zulu v2');
    await call('POST', '/api/skills/alpha/reload');
    const list = (await call('GET', '/api/skills')).body;
    expect(list[0]).toEqual(alphaTwo);
    expect(list[3]).toEqual(summaries.zulu);
  });

  it('role lists are served from the same cache and see a reload', async () => {
    writeSkill(skillsDir, 'maestro-cli', { name: 'cli-one' });
    expect((await call('GET', '/api/skills/role/worker')).body.map((s: { id: string }) => s.id)).toEqual(['cli-one']);
    writeSkill(skillsDir, 'maestro-cli', { name: 'cli-two' });
    expect((await call('GET', '/api/skills/role/worker')).body.map((s: { id: string }) => s.id)).toEqual(['cli-one']);
    expect((await call('POST', '/api/skills/maestro-cli/reload')).body).toEqual({
      id: 'maestro-cli',
      name: 'cli-two',
      description: '',
      type: 'system',
      version: '1.0.0',
      reloaded: true,
    });
    expect((await call('GET', '/api/skills/role/worker')).body.map((s: { id: string }) => s.id)).toEqual(['cli-two']);
  });

  it('a skill whose files were removed answers 404 after reload', async () => {
    await call('GET', '/api/skills/zulu');
    writeFileSync(join(skillsDir, 'zulu', 'manifest.json'), 'not json any more');
    expect((await call('GET', '/api/skills/zulu')).status).toBe(200);
    expectError(await call('POST', '/api/skills/zulu/reload'), 404, 'NOT_FOUND', 'Skill not found: zulu');
    expectError(await call('GET', '/api/skills/zulu'), 404, 'NOT_FOUND', 'Skill not found: zulu');
    expect((await call('GET', '/api/skills')).body.map((s: { id: string }) => s.id)).toEqual(['alpha', 'bare', 'no-instructions']);
  });

  it('answers 404 NOT_FOUND when reloading an unknown skill', async () => {
    expectError(await call('POST', '/api/skills/nope/reload'), 404, 'NOT_FOUND', 'Skill not found: nope');
  });

  it('a skill added on disk after startup is listed without reload', async () => {
    await call('GET', '/api/skills');
    writeSkill(skillsDir, 'beta', { name: 'Beta' });
    expect((await call('GET', '/api/skills')).body.map((s: { id: string }) => s.id)).toEqual([
      'alpha',
      'bare',
      'beta',
      'no-instructions',
      'zulu',
    ]);
  });
});
