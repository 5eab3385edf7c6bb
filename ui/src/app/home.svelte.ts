import type { AppEvent, AppInfo, EngineStatus, ErrorBody, RoomSummary } from '../lib/ipc/bindings';
import { errorMessage } from '../lib/errors';
import { omit } from './nav.svelte';

/** A command's outcome as the generated bindings return it. */
export type CommandResult<T> = { status: 'ok'; data: T } | { status: 'error'; error: ErrorBody };

/** What the home screen needs from the backend. */
export interface DesktopApi {
  engineStatus(): Promise<CommandResult<EngineStatus>>;
  listRooms(): Promise<CommandResult<RoomSummary[]>>;
  appInfo(): Promise<AppInfo>;
}

/** The interviewer's home: engine status, rooms and the app's own state. */
export class HomeState {
  engine = $state<EngineStatus | null>(null);
  engineError = $state<string | null>(null);
  checkingEngine = $state(false);
  rooms = $state<RoomSummary[] | null>(null);
  roomsError = $state<string | null>(null);
  info = $state<AppInfo | null>(null);
  /** Candidates in each room right now (names), from presence events. */
  candidates = $state<Record<string, string[]>>({});
  /** Rooms about to reach their time limit: when they stop. */
  stopSoon = $state<Record<string, number>>({});

  readonly #api: DesktopApi;

  constructor(api: DesktopApi) {
    this.#api = api;
  }

  async load(): Promise<void> {
    await Promise.all([this.checkEngine(), this.loadRooms(), this.loadInfo()]);
  }

  async checkEngine(): Promise<void> {
    this.checkingEngine = true;
    try {
      const res = await this.#api.engineStatus();
      if (res.status === 'ok') {
        this.engine = res.data;
        this.engineError = null;
      } else {
        this.engineError = errorMessage(res.error);
      }
    } catch (e) {
      this.engineError = errorMessage(e);
    } finally {
      this.checkingEngine = false;
    }
  }

  async loadRooms(): Promise<void> {
    try {
      const res = await this.#api.listRooms();
      if (res.status === 'ok') {
        this.rooms = res.data;
        this.roomsError = null;
      } else {
        this.roomsError = errorMessage(res.error);
      }
    } catch (e) {
      this.roomsError = errorMessage(e);
    }
  }

  async loadInfo(): Promise<void> {
    try {
      this.info = await this.#api.appInfo();
    } catch (e) {
      this.info = null;
      this.roomsError ??= errorMessage(e);
    }
  }

  /** Follows what the backend announces: no polling. */
  applyEvent(ev: AppEvent): void {
    switch (ev.kind) {
      case 'room_status': {
        const known = this.rooms?.find((r) => r.id === ev.room);
        if (!known) {
          void this.loadRooms();
          return;
        }
        known.status = ev.status;
        known.error = ev.error;
        // Stop times move on resume and extend: re-read the row once it settles.
        if (ev.status === 'ready' || ev.status === 'stopped') void this.loadRooms();
        if (ev.status !== 'ready') {
          this.candidates = omit(this.candidates, ev.room);
          this.stopSoon = omit(this.stopSoon, ev.room);
        }
        return;
      }
      case 'presence': {
        if (ev.role !== 'candidate') return;
        const now = this.candidates[ev.room] ?? [];
        if (ev.joined) {
          this.candidates[ev.room] = [...now, ev.name];
        } else {
          const i = now.indexOf(ev.name);
          this.candidates[ev.room] = i < 0 ? now : [...now.slice(0, i), ...now.slice(i + 1)];
        }
        return;
      }
      case 'stop_soon':
        this.stopSoon[ev.room] = ev.stop_at;
        return;
      case 'pull_progress':
        return;
    }
  }
}
