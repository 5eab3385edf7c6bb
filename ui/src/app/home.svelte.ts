import type { AppInfo, EngineStatus, ErrorBody, RoomSummary } from '../lib/ipc/bindings';
import { errorMessage } from '../lib/errors';

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
}
