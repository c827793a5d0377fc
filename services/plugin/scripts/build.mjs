// Builds the unpacked extension for both browsers from the same sources:
//   build/chrome   src/ + manifest.json as written (service worker background)
//   build/firefox  src/ + the same manifest with an event-page background and a gecko id
// and copies THE redaction rules of `sharelm.redact` (packages/collection) into both: the rules are never
// edited here. Usage: node scripts/build.mjs [--out DIR]
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pluginDir = resolve(here, '..');
const repo = resolve(pluginDir, '..', '..');
export const RULES = join(repo, 'packages', 'collection', 'src', 'sharelm', 'data', 'redaction_rules.json');
export const SCHEMA = join(repo, 'packages', 'collection', 'src', 'sharelm', 'data', 'conversation.schema.json');

// The libraries the Chrome service worker pulls in with importScripts(), in order; Firefox lists them.
const BACKGROUND_LIBS = ['lib/browser.js', 'lib/adapters.js', 'lib/redact.js', 'lib/conversation.js',
  'lib/store.js', 'lib/outbox.js'];

export function firefoxManifest(chrome) {
  const m = structuredClone(chrome);
  m.background = { scripts: [...BACKGROUND_LIBS, 'background.js'] };
  m.browser_specific_settings = {
    gecko: {
      id: 'sharelm@sharelm.dev',
      strict_min_version: '142.0', // the first with data_collection_permissions on desktop and Android
      // Firefox's built-in consent: conversations are website content; the "about me" fields are optional.
      data_collection_permissions: { required: ['websiteContent'], optional: ['personallyIdentifyingInfo'] },
    },
  };
  return m;
}

export function build(outDir = join(pluginDir, 'build')) {
  if (!existsSync(RULES)) {
    throw new Error(`redaction rules not found at ${RULES}: the extension ships sharelm's rules file`);
  }
  const src = join(pluginDir, 'src');
  const chrome = JSON.parse(readFileSync(join(src, 'manifest.json'), 'utf8'));
  const targets = { chrome, firefox: firefoxManifest(chrome) };
  for (const [name, manifest] of Object.entries(targets)) {
    const dir = join(outDir, name);
    rmSync(dir, { recursive: true, force: true });
    cpSync(src, dir, { recursive: true });
    writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    mkdirSync(join(dir, 'rules'), { recursive: true });
    cpSync(RULES, join(dir, 'rules', 'redaction_rules.json'));
  }
  return { chrome: join(outDir, 'chrome'), firefox: join(outDir, 'firefox') };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const out = build(i > 0 ? resolve(process.argv[i + 1]) : undefined);
  console.log(`built ${out.chrome} and ${out.firefox}`);
}
