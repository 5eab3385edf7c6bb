// A small W3C WebDriver client: enough to drive the desktop window through tauri-driver.
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriver {
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async #call(method, path, body) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const v = json.value ?? {};
      const err = new Error(`${method} ${path}: ${v.error ?? res.status} ${v.message ?? ''}`);
      err.webdriver = v.error;
      throw err;
    }
    return json.value;
  }

  async open(capabilities) {
    const value = await this.#call('POST', '/session', {
      capabilities: { alwaysMatch: capabilities },
    });
    this.session = value.sessionId;
    return value;
  }

  async close() {
    if (this.session) await this.#call('DELETE', `/session/${this.session}`);
    this.session = null;
  }

  title() {
    return this.#call('GET', `/session/${this.session}/title`);
  }

  async find(css) {
    const v = await this.#call('POST', `/session/${this.session}/element`, {
      using: 'css selector',
      value: css,
    });
    return v[ELEMENT];
  }

  text(element) {
    return this.#call('GET', `/session/${this.session}/element/${element}/text`);
  }

  /** Waits until `css` is present and has text; returns the text. */
  async waitForText(css, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      try {
        const text = await this.text(await this.find(css));
        if (text.trim().length > 0) return text.trim();
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`no text at ${css} after ${timeoutMs} ms: ${last?.message ?? 'empty'}`);
  }

  async screenshot() {
    return Buffer.from(await this.#call('GET', `/session/${this.session}/screenshot`), 'base64');
  }
}
