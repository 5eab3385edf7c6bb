/**
 * Syntax highlighting for a file, chosen by its extension (then by the room's language).
 */
import type { Extension } from '@codemirror/state';
import { StreamLanguage, type StreamParser } from '@codemirror/language';

// Each language is its own chunk, loaded when a file needs it: the page starts smaller.
const BY_MODE: Record<string, () => Promise<Extension>> = {
  python: async () => (await import('@codemirror/lang-python')).python(),
  javascript: async () => (await import('@codemirror/lang-javascript')).javascript(),
  typescript: async () =>
    (await import('@codemirror/lang-javascript')).javascript({ typescript: true }),
  jsx: async () => (await import('@codemirror/lang-javascript')).javascript({ jsx: true }),
  tsx: async () =>
    (await import('@codemirror/lang-javascript')).javascript({ jsx: true, typescript: true }),
  c: async () => (await import('@codemirror/lang-cpp')).cpp(),
  cpp: async () => (await import('@codemirror/lang-cpp')).cpp(),
  java: async () => (await import('@codemirror/lang-java')).java(),
  rust: async () => (await import('@codemirror/lang-rust')).rust(),
  go: async () => (await import('@codemirror/lang-go')).go(),
  ruby: async () => legacy((await import('@codemirror/legacy-modes/mode/ruby')).ruby),
  shell: async () => legacy((await import('@codemirror/legacy-modes/mode/shell')).shell),
  markdown: async () => (await import('@codemirror/lang-markdown')).markdown(),
};

function legacy<T>(mode: StreamParser<T>): Extension {
  return StreamLanguage.define(mode);
}

const BY_EXTENSION: Record<string, string> = {
  py: 'python',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'jsx',
  ts: 'typescript',
  mts: 'typescript',
  tsx: 'tsx',
  c: 'c',
  h: 'c',
  cc: 'cpp',
  cpp: 'cpp',
  cxx: 'cpp',
  hpp: 'cpp',
  java: 'java',
  rs: 'rust',
  go: 'go',
  rb: 'ruby',
  sh: 'shell',
  bash: 'shell',
  md: 'markdown',
};

/** The editor mode for `path`: its extension's, else `fallback` (the room's language). */
export function modeFor(path: string, fallback: string): string {
  const name = path.split('/').pop() ?? '';
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  const byExt = BY_EXTENSION[ext];
  if (byExt) return byExt;
  if (name === 'Makefile' || name === 'Dockerfile' || ext === 'txt') return 'plain';
  return fallback;
}

/** The highlighting of `mode` (none for plain text or an unknown mode). */
export async function highlighting(mode: string): Promise<Extension> {
  const make = BY_MODE[mode];
  return make ? make() : [];
}
