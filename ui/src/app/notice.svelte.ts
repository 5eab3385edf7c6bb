import { commands, type Role, type RoomLink } from '../lib/ipc/bindings';
import { errorMessage } from '../lib/errors';
import { unwrap } from './nav.svelte';

/** A short-lived message after an action, and whether an action is running. */
export class Notice {
  current = $state<{ text: string; bad: boolean } | null>(null);
  busy = $state(false);

  show(text: string, bad = false): void {
    const shown = { text, bad };
    this.current = shown;
    setTimeout(() => {
      if (this.current === shown) this.current = null;
    }, 6000);
  }

  /** Runs `action`; a string it returns is shown, an error is shown as such. */
  async run(action: () => Promise<unknown>): Promise<void> {
    this.busy = true;
    try {
      const done = await action();
      if (typeof done === 'string') this.show(done);
    } catch (e) {
      this.show(errorMessage(e), true);
    } finally {
      this.busy = false;
    }
  }
}

/** Issues a new link of `role` to a room (24 hours) and puts it on the clipboard. */
export async function copyRoomLink(room: string, role: Role): Promise<RoomLink> {
  const link = unwrap(await commands.issueLink(room, role, null));
  unwrap(await commands.copyText(link.url));
  return link;
}
