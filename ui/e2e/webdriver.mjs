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

  rect() {
    return this.#call('GET', `/session/${this.session}/window/rect`);
  }

  setRect(rect) {
    return this.#call('POST', `/session/${this.session}/window/rect`, rect);
  }

  click(element) {
    return this.#call('POST', `/session/${this.session}/element/${element}/click`, {});
  }

  clear(element) {
    return this.#call('POST', `/session/${this.session}/element/${element}/clear`, {});
  }

  sendKeys(element, text) {
    return this.#call('POST', `/session/${this.session}/element/${element}/value`, {
      text,
      value: [...text],
    });
  }

  /** Runs `script` (a function body) in the page with `args`; returns its value. */
  execute(script, args = []) {
    return this.#call('POST', `/session/${this.session}/execute/sync`, { script, args });
  }

  /** Waits until `css` is present; returns the element. */
  async waitFor(css, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      try {
        return await this.find(css);
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`nothing at ${css} after ${timeoutMs} ms: ${last?.message ?? ''}`);
  }

  /** Waits until `check()` (async) is truthy; returns its value. */
  async until(what, check, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      try {
        last = await check();
        if (last) return last;
      } catch (e) {
        last = e.message;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`never: ${what} (last: ${JSON.stringify(last)})`);
  }

  /** Clicks the element at `css` once it is there. */
  async clickOn(css) {
    await this.click(await this.waitFor(css));
  }

  /** Replaces the value of the input at `css` by typing `text`. */
  async fill(css, text) {
    const el = await this.waitFor(css);
    await this.clear(el);
    if (String(text).length > 0) await this.sendKeys(el, String(text));
    // Clearing fires no input event: tell the page the value changed.
    else
      await this.execute("arguments[0].dispatchEvent(new Event('input', { bubbles: true }))", [
        { [ELEMENT]: el },
      ]);
  }
}
