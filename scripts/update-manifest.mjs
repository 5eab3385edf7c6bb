#!/usr/bin/env node
// Writes the update manifest (latest.json) for the packages of one version in a folder, as
// scripts/bundle.sh names them (interview-platform_<version>_<arch>.<ext>, each with .sig):
//
//   node scripts/update-manifest.mjs --version 1.2.0 --base-url https://…/download/v1.2.0 \
//     [--notes-file NOTES.md | --notes "text"] [--date 2026-12-04T00:00:00Z] DIR > latest.json
//
// Each package is listed under the updater's `{os}-{arch}-{bundle}` key; the AppImage, the
// macOS app and the NSIS installer also under `{os}-{arch}`, the key older installs look for.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: {
    version: { type: 'string' },
    'base-url': { type: 'string' },
    notes: { type: 'string' },
    'notes-file': { type: 'string' },
    date: { type: 'string' },
  },
  allowPositionals: true,
});
const fail = (msg) => {
  process.stderr.write(`update-manifest: ${msg}\n`);
  process.exit(2);
};
const version = values.version ?? fail('--version is required');
const base = (values['base-url'] ?? fail('--base-url is required')).replace(/\/+$/, '');
const dir = positionals[0] ?? fail('name the folder holding the packages');
if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) fail(`${version} is not a version`);

// extension → [os, bundle key, also the bare {os}-{arch} key]
const KINDS = {
  deb: ['linux', 'deb', false],
  rpm: ['linux', 'rpm', false],
  AppImage: ['linux', 'appimage', true],
  'app.tar.gz': ['darwin', 'app', true],
  'setup.exe': ['windows', 'nsis', true],
  msi: ['windows', 'msi', false],
};
const platforms = {};
const prefix = `interview-platform_${version}_`;
for (const file of readdirSync(dir).sort()) {
  if (!file.startsWith(prefix) || file.endsWith('.sig')) continue;
  const rest = file.slice(prefix.length);
  const dot = rest.indexOf('.');
  const arch = rest.slice(0, dot);
  const kind = KINDS[rest.slice(dot + 1)];
  if (!kind || !['x86_64', 'aarch64'].includes(arch)) continue;
  let signature;
  try {
    signature = readFileSync(join(dir, `${file}.sig`), 'utf8').trim();
  } catch {
    fail(`${file} has no signature (${file}.sig): build it with TAURI_SIGNING_PRIVATE_KEY set`);
  }
  const [os, bundle, bare] = kind;
  const entry = { signature, url: `${base}/${encodeURIComponent(file)}` };
  platforms[`${os}-${arch}-${bundle}`] = entry;
  if (bare) platforms[`${os}-${arch}`] = entry;
}
if (Object.keys(platforms).length === 0) fail(`no signed package of ${version} in ${dir}`);
const notes = values['notes-file'] ? readFileSync(values['notes-file'], 'utf8') : values.notes;
const manifest = {
  version,
  notes: notes ?? '',
  pub_date: values.date ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
  platforms,
};
process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
