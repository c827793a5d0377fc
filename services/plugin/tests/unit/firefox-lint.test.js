// The Firefox build passes Mozilla's own add-on linter (the checks addons.mozilla.org runs on upload)
// with no error and no warning. Chrome's build is the one Chromium loads in the e2e test.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { mkdtempSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const { spawnSync } = require('node:child_process');

const plugin = join(__dirname, '..', '..');

test('addons-linter: the Firefox build has no errors and no warnings', () => {
  const out = mkdtempSync(join(tmpdir(), 'sharelm-ff-'));
  const built = spawnSync(process.execPath, [join(plugin, 'scripts', 'build.mjs'), '--out', out], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const res = spawnSync(process.execPath, [join(plugin, 'node_modules', 'addons-linter', 'bin', 'addons-linter'),
    join(out, 'firefox'), '--output', 'json'], { encoding: 'utf8', timeout: 120000 });
  const report = JSON.parse(res.stdout);
  const found = [...report.errors, ...report.warnings].map((m) => `${m.code}: ${m.message} (${m.file || ''})`);
  assert.deepEqual(found, []);
  assert.equal(report.metadata.manifestVersion, 3);
  assert.equal(report.metadata.id, 'sharelm@sharelm.dev');
});
