// A thin loading bar across the top with a count of the requests still under way.

export class Progress {
  /** @param {HTMLElement} element  holds .progress-bar and .progress-text */
  constructor(element) {
    this.element = element;
    this.bar = element.querySelector(".progress-bar");
    this.text = element.querySelector(".progress-text");
    this.tasks = new Map(); // name -> {pending, done}
  }

  /**
   * @param {string} name  a kind of request
   * @param {number} pending
   * @param {number} done
   */
  set(name, pending, done) {
    this.tasks.set(name, { pending, done });
    this.render();
  }

  /** The bar's width and text from the counts of every kind. */
  render() {
    let pending = 0;
    let done = 0;
    for (const task of this.tasks.values()) {
      pending += task.pending;
      done += task.done;
    }
    this.element.hidden = pending === 0;
    this.element.dataset.pending = String(pending);
    if (pending) {
      const fraction = done / (done + pending);
      this.bar.style.width = `${Math.round(5 + 95 * fraction)}%`;
      this.text.textContent = `Loading ${pending} ${pending === 1 ? "part" : "parts"} of the map…`;
    }
  }

  /**
   * Track a promise as one pending unit of `name`.
   * @template T
   * @param {string} name
   * @param {Promise<T>} promise
   * @returns {Promise<T>}
   */
  async track(name, promise) {
    const task = this.tasks.get(name) || { pending: 0, done: 0 };
    this.set(name, task.pending + 1, task.done);
    try {
      return await promise;
    } finally {
      const now = this.tasks.get(name);
      this.set(name, Math.max(0, now.pending - 1), now.done + 1);
    }
  }
}
