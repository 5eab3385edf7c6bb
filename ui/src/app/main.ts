import { mount } from 'svelte';
import '../lib/base.css';
import App from './App.svelte';
import { HomeState } from './home.svelte';
import { desktopApi } from './desktopApi';

const target = document.getElementById('app');
if (!target) throw new Error('the app page has no #app element');
const home = new HomeState(desktopApi);
mount(App, { target, props: { home } });
void home.load();
