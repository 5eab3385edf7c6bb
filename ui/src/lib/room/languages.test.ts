import { describe, expect, it } from 'vitest';
import { modeFor } from './languages';

describe('editor modes', () => {
  it('follow the file extension first', () => {
    expect(modeFor('main.py', 'javascript')).toBe('python');
    expect(modeFor('src/app.TS', 'python')).toBe('typescript');
    expect(modeFor('lib/util.sh', 'python')).toBe('shell');
    expect(modeFor('Main.java', 'python')).toBe('java');
  });
  it("fall back to the room's language, or plain text", () => {
    expect(modeFor('script', 'ruby')).toBe('ruby');
    expect(modeFor('notes.txt', 'ruby')).toBe('plain');
    expect(modeFor('.bashrc', 'python')).toBe('python');
  });
});
