/**
 * The file tree shown beside the editor: the document's text files and the room's other
 * files and folders, merged, as nested rows in display order.
 */
import type { FileEntry } from '../protocol/types';

export interface Row {
  path: string;
  name: string;
  depth: number;
  dir: boolean;
  /** In the shared document (editable text). */
  text: boolean;
}

export function rows(textFiles: string[], entries: FileEntry[], collapsed: Set<string>): Row[] {
  const nodes = new Map<string, { dir: boolean; text: boolean }>();
  const addParents = (path: string) => {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!nodes.has(dir)) nodes.set(dir, { dir: true, text: false });
    }
  };
  for (const e of entries) {
    nodes.set(e.path, { dir: e.dir, text: false });
    addParents(e.path);
  }
  for (const p of textFiles) {
    nodes.set(p, { dir: false, text: true });
    addParents(p);
  }
  const sorted = [...nodes.entries()].sort(([a, na], [b, nb]) => compare(a, na.dir, b, nb.dir));
  const out: Row[] = [];
  for (const [path, n] of sorted) {
    const parts = path.split('/');
    const hidden = parts
      .slice(0, -1)
      .some((_, i) => collapsed.has(parts.slice(0, i + 1).join('/')));
    if (hidden) continue;
    out.push({
      path,
      name: parts[parts.length - 1] ?? path,
      depth: parts.length - 1,
      dir: n.dir,
      text: n.text,
    });
  }
  return out;
}

/** Folders before files at each level, then by name. */
function compare(a: string, aDir: boolean, b: string, bDir: boolean): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    if (x === y) continue;
    const aIsDir = i < pa.length - 1 || aDir;
    const bIsDir = i < pb.length - 1 || bDir;
    if (aIsDir !== bIsDir) return aIsDir ? -1 : 1;
    return x.localeCompare(y);
  }
  return pa.length - pb.length;
}

/** Whether a name typed for a new file or folder is a usable relative path. */
export function validNewPath(path: string): boolean {
  if (path.length === 0 || path.length > 1024 || path.startsWith('/')) return false;
  if (/[\\\0]/.test(path)) return false;
  return path.split('/').every((s) => s.length > 0 && s !== '.' && s !== '..');
}
