import { mount } from 'svelte';
import '../lib/base.css';
import Home from './Home.svelte';
import { HomeState } from './home.svelte';
import { desktopApi } from './desktopApi';

const target = document.getElementById('app');
if (!target) throw new Error('the app page has no #app element');
const home = new HomeState(desktopApi);
mount(Home, { target, props: { home } });
void home.load();
