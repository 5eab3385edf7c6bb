import { describe, expect, it } from 'vitest';
import { codeSpans } from './codeSpans';

describe('codeSpans', () => {
  it('marks the commands between backticks', () => {
    expect(codeSpans('Start it: `sudo systemctl start docker`, then retry.')).toEqual([
      { text: 'Start it: ', code: false },
      { text: 'sudo systemctl start docker', code: true },
      { text: ', then retry.', code: false },
    ]);
  });

  it('keeps a message with an unmatched backtick as written', () => {
    expect(codeSpans('a ` b')).toEqual([{ text: 'a ` b', code: false }]);
  });
});
