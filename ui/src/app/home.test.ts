import { describe, expect, it } from 'vitest';
import { HomeState, type DesktopApi } from './home.svelte';
import type { RoomSummary } from '../lib/ipc/bindings';

const room: RoomSummary = {
  id: 'r_7f3a',
  name: 'Backend pairing',
  language: 'python',
  status: 'ready',
  error: null,
  created_at: 1_764_000_000_000,
  stop_at: null,
};

function api(overrides: Partial<DesktopApi> = {}): DesktopApi {
  return {
    engineStatus: async () => ({
      status: 'ok',
      data: {
        state: 'ready',
        endpoint: 'unix:///var/run/docker.sock',
        version: '20.10.24',
        api_version: '1.41',
        os: 'linux',
        arch: 'x86_64',
      },
    }),
    listRooms: async () => ({ status: 'ok', data: [room] }),
    appInfo: async () => ({
      version: '0.1.0',
      data_dir: '/tmp/x',
      room_server: { url: 'http://127.0.0.1:7417', error: null },
    }),
    ...overrides,
  };
}

describe('HomeState', () => {
  it('loads engine, rooms and app info', async () => {
    const home = new HomeState(api());
    await home.load();
    expect(home.engine).toMatchObject({ state: 'ready', version: '20.10.24' });
    expect(home.rooms).toEqual([room]);
    expect(home.info?.room_server.url).toBe('http://127.0.0.1:7417');
    expect(home.checkingEngine).toBe(false);
  });

  it('shows the backend message when rooms cannot be read', async () => {
    const home = new HomeState(
      api({
        listRooms: async () => ({
          status: 'error',
          error: { code: 'database', message: 'database error: disk I/O error' },
        }),
      }),
    );
    await home.load();
    expect(home.rooms).toBeNull();
    expect(home.roomsError).toBe('database error: disk I/O error');
  });

  it('turns a failed call into readable words', async () => {
    const home = new HomeState(
      api({
        engineStatus: () => Promise.reject(new Error('IPC unavailable')),
      }),
    );
    await home.checkEngine();
    expect(home.engineError).toBe('IPC unavailable');
    expect(home.checkingEngine).toBe(false);
  });
});

describe('HomeState events', () => {
  it('follows status, presence and stop warnings without re-reading everything', async () => {
    let reads = 0;
    const home = new HomeState(
      api({
        listRooms: async () => {
          reads++;
          return { status: 'ok', data: [{ ...room }] };
        },
      }),
    );
    await home.load();
    expect(reads).toBe(1);
    home.applyEvent({ kind: 'room_status', room: room.id, status: 'stopping', error: null });
    expect(home.rooms?.[0]?.status).toBe('stopping');
    expect(reads).toBe(1);

    home.applyEvent({
      kind: 'presence',
      room: room.id,
      name: 'Ada',
      role: 'candidate',
      joined: true,
    });
    home.applyEvent({
      kind: 'presence',
      room: room.id,
      name: 'Bo',
      role: 'observer',
      joined: true,
    });
    expect(home.candidates[room.id]).toEqual(['Ada']);
    home.applyEvent({
      kind: 'presence',
      room: room.id,
      name: 'Ada',
      role: 'candidate',
      joined: false,
    });
    expect(home.candidates[room.id]).toEqual([]);

    home.applyEvent({ kind: 'stop_soon', room: room.id, stop_at: 123 });
    expect(home.stopSoon[room.id]).toBe(123);

    // A room this window has not seen (made from the CLI): the list is read again.
    home.applyEvent({ kind: 'room_status', room: 'r_new', status: 'ready', error: null });
    await Promise.resolve();
    expect(reads).toBe(2);
  });
});
