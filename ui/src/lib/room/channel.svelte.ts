/**
 * The room channel as the page sees it: joins with a name, keeps the participants, the
 * rules and (for interviewers) the activity feed, hands terminal output to whoever renders
 * it, and reconnects with backoff after a network drop, a server restart or a sleeping
 * laptop. A refusal (bad, expired or revoked link; stopped room) ends it with plain words.
 */
import type {
  ActivityKind,
  ClientMessage,
  FileEntry,
  Participant,
  RoomInfo,
  ServerMessage,
} from '../protocol/types';
import { backoff, describeClose, type Closure } from './closeCodes';

export type ChannelStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ActivityItem {
  at: number;
  name: string;
  kind: ActivityKind;
  size: number | null;
  path: string | null;
}

/** Terminal frames: append output, or replace the whole screen. */
export interface TerminalSink {
  output(data: Uint8Array): void;
  screen(data: Uint8Array): void;
}

const MAX_ACTIVITY = 500;

export class RoomChannel {
  status: ChannelStatus = $state('connecting');
  /** Set when the server refused the link or the room is gone: nothing more will happen. */
  closure: Closure | null = $state(null);
  you: Participant | null = $state(null);
  room: RoomInfo | null = $state(null);
  participants: Participant[] = $state([]);
  canType = $state(false);
  activity: ActivityItem[] = $state([]);
  tree: FileEntry[] = $state([]);
  stopSoonAt: number | null = $state(null);
  /** The last refused request, for a notice. */
  lastError: string | null = $state(null);
  /** Bumped whenever files change in the room (to refresh the tree). */
  filesVersion = $state(0);

  #ws: WebSocket | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #sink: TerminalSink | null = null;
  // Pending requests, not state the page renders.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  #downloads = new Map<string, (data: string) => void>();
  #url: string;
  #name: string;
  #stealth = false;
  #tab: string;

  /** `tab`: the page's id, also given to its document socket. */
  constructor(url: string, name: string, tab: string) {
    this.#url = url;
    this.#name = name;
    this.#tab = tab;
    this.#connect();
  }

  /** Interviewers: hide from the candidate, or show again; kept across reconnects. */
  setStealth(on: boolean) {
    this.#stealth = on;
    this.send({ type: 'stealth', on });
  }

  /** Where terminal output goes. */
  attachTerminal(sink: TerminalSink | null): void {
    this.#sink = sink;
  }

  send(message: ClientMessage): boolean {
    if (this.#ws?.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }

  /** Asks for a file's bytes (base64). */
  download(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      if (!this.send({ type: 'download', path })) {
        reject(new Error('not connected'));
        return;
      }
      this.#downloads.set(path, resolve);
    });
  }

  close(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#ws?.close(1000);
  }

  /** Reconnects at once (a "try again" button). */
  retry(): void {
    this.closure = null;
    this.#stopped = false;
    this.#attempt = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#connect();
  }

  #connect(): void {
    this.status = this.#attempt === 0 && this.you === null ? 'connecting' : 'reconnecting';
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.#url);
    } catch {
      this.#schedule();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    ws.onopen = () => {
      ws.send(
        JSON.stringify({
          type: 'hello',
          name: this.#name,
          stealth: this.#stealth,
          tab: this.#tab,
        } satisfies ClientMessage),
      );
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') {
        this.#handle(JSON.parse(event.data) as ServerMessage);
      } else {
        const bytes = new Uint8Array(event.data as ArrayBuffer);
        const body = bytes.subarray(1);
        if (bytes[0] === 2) this.#sink?.screen(body);
        else if (bytes[0] === 1) this.#sink?.output(body);
      }
    };
    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      const closure = describeClose(event.code);
      if (closure?.final) {
        this.closure = closure;
        this.status = 'closed';
        return;
      }
      if (!this.#stopped) this.#schedule();
      else this.status = 'closed';
    };
  }

  #schedule(): void {
    this.status = 'reconnecting';
    const delay = backoff(this.#attempt++);
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #handle(m: ServerMessage): void {
    switch (m.type) {
      case 'welcome':
        this.#attempt = 0;
        this.status = 'open';
        this.you = m.you;
        this.room = m.room;
        this.canType = m.can_type;
        this.send({ type: 'tree' });
        break;
      case 'participants':
        this.participants = m.list;
        break;
      case 'policy':
        this.canType = m.can_type;
        if (this.room) this.room = { ...this.room, candidate_terminal: m.candidate_terminal };
        break;
      case 'activity':
        this.activity = [
          { at: m.at, name: m.name, kind: m.kind, size: m.size, path: m.path },
          ...this.activity,
        ].slice(0, MAX_ACTIVITY);
        break;
      case 'tree':
        this.tree = m.entries;
        break;
      case 'file_data': {
        const done = this.#downloads.get(m.path);
        this.#downloads.delete(m.path);
        done?.(m.data);
        break;
      }
      case 'files_changed':
        this.filesVersion += 1;
        break;
      case 'stop_soon':
        this.stopSoonAt = m.at;
        break;
      case 'error':
        this.lastError = m.message;
        break;
    }
  }
}
