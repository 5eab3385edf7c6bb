import { Channel } from '@tauri-apps/api/core';
import { commands, type Progress, type UpdateInfo } from '../lib/ipc/bindings';
import { errorMessage } from '../lib/errors';

type Res<T> = { status: 'ok'; data: T } | { status: 'error'; error: { message: string } };

/** The app's update commands (a stand-in in unit tests). */
export interface UpdateApi {
  checkUpdate(): Promise<Res<UpdateInfo | null>>;
  pendingUpdate(): Promise<Res<UpdateInfo | null>>;
  downloadUpdate(onProgress: (p: Progress) => void): Promise<Res<UpdateInfo>>;
  installUpdate(
    stopRooms: boolean,
  ): Promise<Res<{ state: 'restarting' } | { state: 'deferred'; live_rooms: number }>>;
  postponeUpdate(): Promise<Res<null>>;
}

/** The commands of the running app. */
export const appUpdateApi: UpdateApi = {
  checkUpdate: () => commands.checkUpdate(),
  pendingUpdate: () => commands.pendingUpdate(),
  downloadUpdate: (onProgress) => {
    const channel = new Channel<Progress>();
    channel.onmessage = onProgress;
    return commands.downloadUpdate(channel);
  },
  installUpdate: (stopRooms) => commands.installUpdate(stopRooms),
  postponeUpdate: () => commands.postponeUpdate(),
};

/** Where updating stands, as the banner and the settings show it. */
export type UpdatePhase =
  | 'idle'
  | 'checking'
  | 'up_to_date'
  | 'available'
  | 'downloading'
  | 'downloaded'
  | 'deferred'
  | 'installing'
  | 'restarting';

/** The update flow: check, download (verified), install (never while rooms are live), restart. */
export class Updates {
  phase = $state<UpdatePhase>('idle');
  info = $state<UpdateInfo | null>(null);
  progress = $state<Progress | null>(null);
  error = $state<string | null>(null);
  /** Rooms that were live when installing was asked for. */
  liveRooms = $state(0);
  /** The rooms have stopped after installing was put off: ask again. */
  offer = $state(false);
  /** The banner was closed for this version. */
  dismissed = $state(false);

  constructor(private api: UpdateApi = appUpdateApi) {}

  /** A newer release reported by the app (the check at start, or an earlier check). */
  found(info: UpdateInfo | null): void {
    if (!info) return;
    this.info = info;
    this.dismissed = false;
    this.phase = info.downloaded ? 'downloaded' : 'available';
    if (info.waiting_for_rooms) this.phase = 'deferred';
  }

  async restore(): Promise<void> {
    const res = await this.api.pendingUpdate();
    if (res.status === 'ok') this.found(res.data);
  }

  async check(): Promise<void> {
    this.phase = 'checking';
    this.error = null;
    const res = await call(() => this.api.checkUpdate());
    if ('error' in res) {
      this.error = res.error;
      this.phase = this.info ? 'available' : 'idle';
    } else if (res.ok) {
      this.found(res.ok);
    } else {
      this.info = null;
      this.phase = 'up_to_date';
    }
  }

  async download(): Promise<boolean> {
    this.phase = 'downloading';
    this.error = null;
    this.progress = { fraction: 0, label: 'Connecting' };
    const res = await call(() => this.api.downloadUpdate((p) => (this.progress = p)));
    this.progress = null;
    if ('error' in res) {
      this.error = res.error;
      this.phase = 'available';
      return false;
    }
    this.info = res.ok;
    this.phase = 'downloaded';
    return true;
  }

  /** Downloads when needed, then installs: with rooms live (and `stopRooms` false) the app
   * waits and offers again once they stop. */
  async install(stopRooms = false): Promise<void> {
    this.offer = false;
    if (this.phase !== 'downloaded' && this.phase !== 'deferred') {
      if (!(await this.download())) return;
    }
    this.phase = 'installing';
    this.error = null;
    const res = await call(() => this.api.installUpdate(stopRooms));
    if ('error' in res) {
      this.error = res.error;
      this.phase = 'downloaded';
    } else if (res.ok.state === 'deferred') {
      this.liveRooms = res.ok.live_rooms;
      this.phase = 'deferred';
    } else {
      this.phase = 'restarting';
    }
  }

  async postpone(): Promise<void> {
    this.offer = false;
    this.phase = 'downloaded';
    await this.api.postponeUpdate();
  }
}

/** A command's result as `{ok}` or `{error}` (its readable message), whatever failed. */
async function call<T>(run: () => Promise<Res<T>>): Promise<{ ok: T } | { error: string }> {
  try {
    const res = await run();
    if (res.status === 'ok') return { ok: res.data };
    return { error: res.error.message || 'The update failed without saying why.' };
  } catch (e) {
    return { error: errorMessage(e) };
  }
}
