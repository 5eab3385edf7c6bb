/** A piece of a message: plain words, or a command to show as code. */
export type Span = { text: string; code: boolean };

/** Splits a backend message at its backticks so commands can be shown as code. */
export function codeSpans(message: string): Span[] {
  const parts = message.split('`');
  // An odd backtick count leaves the last part open: show it as written.
  if (parts.length % 2 === 0) return [{ text: message, code: false }];
  return parts
    .map((text, i) => ({ text, code: i % 2 === 1 }))
    .filter((span) => span.text.length > 0);
}
