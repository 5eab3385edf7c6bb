import { commands } from '../lib/ipc/bindings';
import type { DesktopApi } from './home.svelte';

/** The home screen's backend, reached through the window's IPC. */
export const desktopApi: DesktopApi = {
  engineStatus: () => commands.engineStatus(),
  listRooms: () => commands.listRooms(),
  appInfo: () => commands.appInfo(),
};
