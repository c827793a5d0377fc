// One source tree, two manifests: Chrome runs background.js as a service worker that importScripts() the
// libraries; Firefox lists the same libraries as event-page scripts. Everything either manifest names exists.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { readFileSync, existsSync, mkdtempSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const { spawnSync } = require('node:child_process');

const out = mkdtempSync(join(tmpdir(), 'sharelm-build-'));
const res = spawnSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'build.mjs'), '--out', out], { encoding: 'utf8' });
const manifest = (b) => JSON.parse(readFileSync(join(out, b, 'manifest.json'), 'utf8'));

test('build succeeds', () => assert.equal(res.status, 0, res.stderr));

test('both manifests are MV3 and differ only in background and gecko settings', () => {
  const c = manifest('chrome');
  const f = manifest('firefox');
  assert.equal(c.manifest_version, 3);
  assert.equal(c.background.service_worker, 'background.js');
  assert.equal(f.browser_specific_settings.gecko.id, 'sharelm@sharelm.dev');
  const strip = ({ background, browser_specific_settings, ...rest }) => rest;
  assert.deepEqual(strip(c), strip(f));
  assert.deepEqual(c.permissions.sort(), ['alarms', 'storage', 'unlimitedStorage'], 'no permission beyond storage and alarms');
});

test('Firefox loads the same libraries, in the same order, as the Chrome worker imports', () => {
  const src = readFileSync(join(out, 'chrome', 'background.js'), 'utf8');
  const imported = [...src.match(/importScripts\(([^)]*)\)/)[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
  assert.deepEqual(manifest('firefox').background.scripts, [...imported, 'background.js']);
});

test('every file a manifest names is in the build', () => {
  for (const b of ['chrome', 'firefox']) {
    const m = manifest(b);
    const files = [...m.content_scripts.flatMap((c) => c.js), m.action.default_popup, 'rules/redaction_rules.json',
      ...(m.background.scripts || [m.background.service_worker])];
    for (const f of files) assert.ok(existsSync(join(out, b, f)), `${b}: ${f} missing`);
  }
});
