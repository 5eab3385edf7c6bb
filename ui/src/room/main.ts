import { mount } from 'svelte';
import '../lib/base.css';
import RoomPage from './RoomPage.svelte';

const target = document.getElementById('room');
if (!target) throw new Error('the room page has no #room element');
mount(RoomPage, { target });
