import { describe, expect, it } from 'vitest';
import { Updates, type UpdateApi } from './updates.svelte';
import type { UpdateInfo } from '../lib/ipc/bindings';

const info: UpdateInfo = {
  version: '0.2.0',
  current_version: '0.1.0',
  notes: 'Faster rooms',
  date: null,
  downloaded: false,
  waiting_for_rooms: false,
};

function api(overrides: Partial<UpdateApi> = {}): UpdateApi & { installs: boolean[] } {
  const installs: boolean[] = [];
  return {
    installs,
    checkUpdate: async () => ({ status: 'ok', data: info }),
    pendingUpdate: async () => ({ status: 'ok', data: null }),
    downloadUpdate: async (onProgress) => {
      onProgress({ fraction: 0.5, label: 'Downloading 0.2.0: 1.0 of 2.0 MB' });
      return { status: 'ok', data: { ...info, downloaded: true } };
    },
    installUpdate: async (stopRooms) => {
      installs.push(stopRooms);
      return { status: 'ok', data: { state: 'restarting' } };
    },
    postponeUpdate: async () => ({ status: 'ok', data: null }),
    ...overrides,
  };
}

describe('updates', () => {
  it('says when this is the newest version', async () => {
    const u = new Updates(api({ checkUpdate: async () => ({ status: 'ok', data: null }) }));
    await u.check();
    expect(u.phase).toBe('up_to_date');
    expect(u.info).toBeNull();
  });

  it('downloads before installing, then restarts', async () => {
    const a = api();
    const u = new Updates(a);
    await u.check();
    expect(u.phase).toBe('available');
    await u.install();
    expect(a.installs).toEqual([false]);
    expect(u.phase).toBe('restarting');
    expect(u.info?.downloaded).toBe(true);
  });

  it('waits while rooms are live and can stop them when asked', async () => {
    const a = api({
      installUpdate: async (stopRooms) =>
        stopRooms
          ? { status: 'ok', data: { state: 'restarting' } }
          : { status: 'ok', data: { state: 'deferred', live_rooms: 2 } },
    });
    const u = new Updates(a);
    await u.check();
    await u.install();
    expect(u.phase).toBe('deferred');
    expect(u.liveRooms).toBe(2);
    await u.install(true);
    expect(u.phase).toBe('restarting');
  });

  it('shows a refused download in words and installs nothing', async () => {
    const a = api({
      downloadUpdate: async () => ({
        status: 'error',
        error: { message: 'The downloaded update does not match its signature' },
      }),
    });
    const u = new Updates(a);
    await u.check();
    await u.install();
    expect(u.error).toMatch(/does not match its signature/);
    expect(u.phase).toBe('available');
    expect(a.installs).toEqual([]);
  });

  it('turns a thrown failure into its message, never [object Object]', async () => {
    const u = new Updates(
      api({
        checkUpdate: async () => {
          throw new Error('IPC gone');
        },
      }),
    );
    await u.check();
    expect(u.error).toBe('IPC gone');
    expect(u.phase).toBe('idle');
  });
});
