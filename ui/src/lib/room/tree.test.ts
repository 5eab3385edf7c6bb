import { describe, expect, it } from 'vitest';
import { rows, validNewPath } from './tree';

describe('the file tree', () => {
  it('nests folders before files and marks what is editable', () => {
    const r = rows(
      ['main.py', 'src/util.py', 'README.md'],
      [
        { path: 'data.bin', dir: false, size: 4, walked: true },
        { path: 'node_modules', dir: true, size: 0, walked: false },
      ],
      new Set(),
    );
    expect(r.map((x) => `${'  '.repeat(x.depth)}${x.name}${x.dir ? '/' : ''}`)).toEqual([
      'node_modules/',
      'src/',
      '  util.py',
      'data.bin',
      'main.py',
      'README.md',
    ]);
    expect(r.find((x) => x.name === 'data.bin')?.text).toBe(false);
    expect(r.find((x) => x.name === 'util.py')?.text).toBe(true);
  });
  it('hides what is inside collapsed folders', () => {
    const r = rows(['src/a.py', 'src/deep/b.py', 'top.py'], [], new Set(['src']));
    expect(r.map((x) => x.path)).toEqual(['src', 'top.py']);
  });
  it('accepts relative paths only', () => {
    expect(validNewPath('src/new.py')).toBe(true);
    for (const bad of ['', '/etc/x', '../x', 'a//b', 'a/./b', 'a\\b'])
      expect(validNewPath(bad)).toBe(false);
  });
});
