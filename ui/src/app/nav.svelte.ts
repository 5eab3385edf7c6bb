/** Which screen the interviewer's window shows. */
export type View =
  | { name: 'home' }
  | { name: 'new' }
  | { name: 'room'; id: string }
  | { name: 'settings' }
  | { name: 'diagnostics' };

export class Nav {
  view = $state<View>({ name: 'home' });

  go(view: View): void {
    this.view = view;
  }
}

/** Unwraps a command's result, throwing its readable message. */
export function unwrap<T>(
  res: { status: 'ok'; data: T } | { status: 'error'; error: { message: string } },
): T {
  if (res.status === 'ok') return res.data;
  throw new Error(res.error.message || 'The app did not say what went wrong.');
}

/** `rec` without `key` (a new object, so Svelte sees the change). */
export function omit<T>(rec: Record<string, T>, key: string): Record<string, T> {
  return Object.fromEntries(Object.entries(rec).filter(([k]) => k !== key));
}
